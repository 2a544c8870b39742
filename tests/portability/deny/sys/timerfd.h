/* Portability check (tests/portability/check.sh): sys/timerfd.h is not for src/host or src/proto. */
#error "sys/timerfd.h: Linux-only or transport-only header; keep it behind src/platform, src/sock or src/hostd"
