/* What every transport shares (transport.h), below them all: conn.c opens the transports and
 * calls through their ops, so nothing a transport needs may live in conn.c. */
#include "transport.h"

#include <stdlib.h>

int apir_transport_call_timeout_ms(void)
{
    const char *e = getenv("APIR_TIMEOUT_S");
    unsigned long s = e && *e ? strtoul(e, NULL, 10) : APIR_DEFAULT_CALL_TIMEOUT_S;
    if (s == 0 || s > 86400u * 24)
        s = APIR_DEFAULT_CALL_TIMEOUT_S;
    return (int)(s * 1000u);
}
