/* make test-asan only: readies the sanitizer runtime for the session's seccomp filter. */
#pragma once

/* Called by a session process just before it installs its seccomp filter; does nothing
 * unless built with APIR_SANITIZE. */
void apir_sanitize_before_sandbox(void);
