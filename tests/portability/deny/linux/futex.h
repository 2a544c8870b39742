/* Portability check (tests/portability/check.sh): linux/futex.h is not for src/host or src/proto. */
#error "linux/futex.h: Linux-only or transport-only header; keep it behind src/platform, src/sock or src/hostd"
