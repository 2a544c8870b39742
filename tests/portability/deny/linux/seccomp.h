/* Portability check (tests/portability/check.sh): linux/seccomp.h is not for src/host or src/proto. */
#error "linux/seccomp.h: Linux-only or transport-only header; keep it behind src/platform, src/sock or src/hostd"
