/*
 * sleep_baseline: the floor under every timing figure of a Kairo control loop.
 *
 * A bare clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME) loop on a fixed grid of absolute deadlines that does
 * no work at all and records, per tick, how late the thread woke up (now - deadline). Whatever wake-up
 * lateness Kairo's loop shows beyond these figures, on the same machine with the same scheduling settings,
 * is Kairo's own.
 *
 * Usage: sleep_baseline [--rate HZ] [--ticks N] [--fifo PRIO] [--cpu N] [--json]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *prog = "sleep_baseline";

static void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s [--rate HZ] [--ticks N] [--fifo PRIO] [--cpu N] [--json]\n"
            "  --rate HZ     tick rate (default 1000)\n"
            "  --ticks N     measured ticks (default 10000)\n"
            "  --fifo PRIO   SCHED_FIFO priority (warns and continues if refused)\n"
            "  --cpu N       pin to CPU N (warns and continues if refused)\n"
            "  --json        one JSON object on stdout instead of the table\n",
            prog);
}

static long parse_long(const char *s, const char *opt, long min, long max)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        die("%s: expected an integer in [%ld, %ld], got '%s'", opt, min, max, s);
    return v;
}

static double parse_double(const char *s, const char *opt, double min, double max)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= min && v <= max))
        die("%s: expected a number in [%g, %g], got '%s'", opt, min, max, s);
    return v;
}

static inline int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_until(int64_t deadline_ns)
{
    struct timespec ts = {.tv_sec = deadline_ns / 1000000000, .tv_nsec = deadline_ns % 1000000000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

static int apply_fifo(int prio)
{
    struct sched_param sp = {.sched_priority = prio};
    if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0) {
        fprintf(stderr, "%s: warning: SCHED_FIFO priority %d not applied (%s); continuing with the default policy\n",
                prog, prio, strerror(errno));
        return 0;
    }
    return 1;
}

static int apply_cpu(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        fprintf(stderr, "%s: warning: affinity to CPU %d not applied (%s); continuing unpinned\n", prog, cpu,
                strerror(errno));
        return 0;
    }
    return 1;
}

typedef struct {
    int64_t p50, p90, p99, p999, max, mean;
} Summary;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples: sorted[ceil(n * num / den) - 1], in integer arithmetic. */
static int64_t rank_pct(const int64_t *sorted, size_t n, uint64_t num, uint64_t den)
{
    uint64_t rank = ((uint64_t)n * num + den - 1) / den;
    if (rank < 1)
        rank = 1;
    return sorted[rank - 1];
}

static Summary summarize(int64_t *s, size_t n)
{
    Summary r;
    qsort(s, n, sizeof *s, cmp_i64);
    long double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += s[i];
    r.p50 = rank_pct(s, n, 1, 2);
    r.p90 = rank_pct(s, n, 9, 10);
    r.p99 = rank_pct(s, n, 99, 100);
    r.p999 = rank_pct(s, n, 999, 1000);
    r.max = s[n - 1];
    r.mean = (int64_t)llroundl(sum / n);
    return r;
}

int main(int argc, char **argv)
{
    double rate_hz = 1000;
    long ticks = 10000;
    int fifo = 0, cpu = -1, json = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strncmp(a, "--", 2) == 0 && i + 1 < argc &&
                   (strcmp(a, "--rate") == 0 || strcmp(a, "--ticks") == 0 || strcmp(a, "--fifo") == 0 ||
                    strcmp(a, "--cpu") == 0)) {
            const char *v = argv[++i];
            if (strcmp(a, "--rate") == 0)
                rate_hz = parse_double(v, a, 1e-3, 1e6);
            else if (strcmp(a, "--ticks") == 0)
                ticks = parse_long(v, a, 1, 100000000);
            else if (strcmp(a, "--fifo") == 0)
                fifo = (int)parse_long(v, a, 1, 99);
            else
                cpu = (int)parse_long(v, a, 0, CPU_SETSIZE - 1);
        } else {
            fprintf(stderr, "%s: bad argument '%s'\n", prog, a);
            usage(stderr);
            return 2;
        }
    }

    size_t n = (size_t)ticks;
    int64_t *late = calloc(n, sizeof *late); /* touched before the loop: nothing is allocated inside it */
    if (late == NULL)
        die("out of memory for %zu samples", n);

    int fifo_applied = fifo > 0 ? apply_fifo(fifo) : 0;
    int cpu_applied = cpu >= 0 ? apply_cpu(cpu) : 0;

    int64_t period = (int64_t)llround(1e9 / rate_hz);
    if (period < 1)
        period = 1;
    long missed = 0;
    int64_t deadline = now_ns() + period;
    for (size_t k = 0; k < n; k++) {
        sleep_until(deadline);
        int64_t woke = now_ns();
        late[k] = woke - deadline;
        /* Same rule as ort_baseline: a tick that ends after the next deadline is missed, and deadlines already
         * past are skipped. Here the tick ends when it wakes. */
        int64_t next = deadline + period;
        if (woke > next) {
            missed++;
            next += ((woke - next) / period + 1) * period;
        }
        deadline = next;
    }

    Summary s = summarize(late, n);
    if (json) {
        printf("{\"program\":\"sleep_baseline\",\"rate_hz\":%g,\"ticks\":%zu,", rate_hz, n);
        printf("\"fifo\":");
        if (fifo_applied)
            printf("%d", fifo);
        else
            printf("null");
        printf(",\"cpu\":");
        if (cpu_applied)
            printf("%d", cpu);
        else
            printf("null");
        printf(",\"lateness_ns\":{\"p50\":%" PRId64 ",\"p90\":%" PRId64 ",\"p99\":%" PRId64 ",\"p999\":%" PRId64
               ",\"max\":%" PRId64 ",\"mean\":%" PRId64 "},\"missed_ticks\":%ld}\n",
               s.p50, s.p90, s.p99, s.p999, s.max, s.mean, missed);
    } else {
        printf("sleep_baseline: %zu ticks at %g Hz (period %" PRId64 " ns)", n, rate_hz, period);
        if (fifo_applied)
            printf(", SCHED_FIFO %d", fifo);
        if (cpu_applied)
            printf(", CPU %d", cpu);
        printf("\n\n%-16s %11s %11s %11s %11s %11s %11s\n", "(microseconds)", "p50", "p90", "p99", "p99.9", "max",
               "mean");
        printf("%-16s %11.3f %11.3f %11.3f %11.3f %11.3f %11.3f\n", "wake lateness", s.p50 / 1e3, s.p90 / 1e3,
               s.p99 / 1e3, s.p999 / 1e3, s.max / 1e3, s.mean / 1e3);
        printf("\nmissed ticks: %ld of %zu\n", missed, n);
    }
    free(late);
    return 0;
}
