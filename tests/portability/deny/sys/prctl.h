/* Portability check (tests/portability/check.sh): sys/prctl.h is not for src/host or src/proto. */
#error "sys/prctl.h: Linux-only or transport-only header; keep it behind src/platform, src/sock or src/hostd"
