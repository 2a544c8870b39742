/* Portability check (tests/portability/check.sh): linux/filter.h is not for src/host or src/proto. */
#error "linux/filter.h: Linux-only or transport-only header; keep it behind src/platform, src/sock or src/hostd"
