/*
 * stall_witness: a thread that does nothing but wake up on time, to tell the machine's stalls from a program's.
 *
 * It wakes on a fixed grid of absolute CLOCK_MONOTONIC deadlines, usually pinned to the CPU of the loop it
 * watches and at a SCHED_FIFO priority above it, so nothing that loop's process does can delay it: no garbage
 * collection, no lock, no other thread of that process. Whenever it wakes later than the threshold, the CPU was
 * taken from everything at that priority (an interrupt storm, a kernel stall, a hypervisor descheduling the vCPU),
 * and it prints the stretch it lost. A tick that a loop missed in the same stretch was the machine's doing.
 *
 * Output, one line each, flushed at once (nanoseconds of CLOCK_MONOTONIC, the clock every process shares):
 *   ready <now> <fifo applied: 0|1> <cpu applied: 0|1>
 *   stall <due> <woke>       the thread was due at <due> and ran at <woke>
 *   at <now>                 a heartbeat every 100 ms: every stall before <now> has been printed
 * It exits when its standard input closes, as it does when the process that started it ends, so it never outlives
 * the test that started it (within 100 ms).
 *
 * Usage: stall_witness [--rate HZ] [--threshold-us N] [--fifo PRIO] [--cpu N]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *prog = "stall_witness";

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s [--rate HZ] [--threshold-us N] [--fifo PRIO] [--cpu N]\n"
            "  --rate HZ          wake-ups per second (default 2000)\n"
            "  --threshold-us N   report a wake-up later than N microseconds (default 250)\n"
            "  --fifo PRIO        SCHED_FIFO priority (warns and continues if refused)\n"
            "  --cpu N            pin to CPU N (warns and continues if refused)\n",
            prog);
}

static long parse_long(const char *s, const char *opt, long min, long max)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "%s: %s: expected an integer in [%ld, %ld], got '%s'\n", prog, opt, min, max, s);
        exit(2);
    }
    return v;
}

static inline int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_until(int64_t due)
{
    struct timespec ts = {.tv_sec = due / 1000000000, .tv_nsec = due % 1000000000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

/* True once standard input has reached its end (the parent closed it or died). */
static int input_closed(void)
{
    struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
    if (poll(&p, 1, 0) <= 0)
        return 0;
    if (p.revents & (POLLHUP | POLLERR | POLLNVAL))
        return 1;
    char buf[256];
    return read(STDIN_FILENO, buf, sizeof buf) <= 0;
}

int main(int argc, char **argv)
{
    long rate = 2000, threshold_us = 250, fifo = -1, cpu = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "%s: %s needs a value\n", prog, a);
            usage(stderr);
            return 2;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--rate") == 0)
            rate = parse_long(v, a, 1, 100000);
        else if (strcmp(a, "--threshold-us") == 0)
            threshold_us = parse_long(v, a, 1, 10000000);
        else if (strcmp(a, "--fifo") == 0)
            fifo = parse_long(v, a, 1, 99);
        else if (strcmp(a, "--cpu") == 0)
            cpu = parse_long(v, a, 0, CPU_SETSIZE - 1);
        else {
            fprintf(stderr, "%s: unknown option '%s'\n", prog, a);
            usage(stderr);
            return 2;
        }
    }

    int fifo_applied = 0, cpu_applied = 0;
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) == 0)
            cpu_applied = 1;
        else
            fprintf(stderr, "%s: warning: affinity to CPU %ld not applied (%s)\n", prog, cpu, strerror(errno));
    }
    if (fifo > 0) {
        struct sched_param sp = {.sched_priority = (int)fifo};
        if (sched_setscheduler(0, SCHED_FIFO, &sp) == 0)
            fifo_applied = 1;
        else
            fprintf(stderr, "%s: warning: SCHED_FIFO priority %ld not applied (%s)\n", prog, fifo, strerror(errno));
    }

    const int64_t period = 1000000000 / rate;
    const int64_t threshold = threshold_us * 1000;
    const int64_t heartbeat = 100000000;
    int64_t due = now_ns() + period;
    int64_t next_beat = due;
    printf("ready %" PRId64 " %d %d\n", now_ns(), fifo_applied, cpu_applied);
    fflush(stdout);

    for (;;) {
        sleep_until(due);
        int64_t woke = now_ns();
        if (woke - due > threshold) {
            printf("stall %" PRId64 " %" PRId64 "\n", due, woke);
            fflush(stdout);
        }
        if (woke >= next_beat) {
            if (input_closed())
                return 0;
            printf("at %" PRId64 "\n", woke);
            fflush(stdout);
            next_beat = woke + heartbeat;
        }
        due += period;
        if (due < woke)
            due = woke - (woke - due) % period + period; /* realign after a stall: the lost stretch is one line */
    }
}
