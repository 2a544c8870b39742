/* Portability check (tests/portability/check.sh): sys/un.h is not for src/host or src/proto. */
#error "sys/un.h: Linux-only or transport-only header; keep it behind src/platform, src/sock or src/hostd"
