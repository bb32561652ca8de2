/*
 * ort_baseline: the plain-C reference loop that Kairo's inference benchmarks are compared against.
 *
 * It loads libonnxruntime.so.1 with dlopen, reaches the C API through OrtGetApiBase()->GetApi(16) and calls
 * functions by their slot in that table, opens one model, preallocates every input and output once, and
 * then calls Run for N ticks, either back to back or paced on absolute CLOCK_MONOTONIC deadlines. Whatever
 * Kairo's loop adds on top of a bare Run (managed code, bindings, histograms, sinks) shows up as the
 * difference between its figures and these.
 *
 * Usage: ort_baseline LIB MODEL [--ticks N] [--warmup N] [--rate HZ] [--threads N]
 *                    [--input name=DxDxD[:value]]... [--spin 0|1] [--fifo PRIO] [--cpu N] [--json]
 */
#define _GNU_SOURCE
#include <dlfcn.h>
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

/* ---- The few ONNX Runtime C API facts this program relies on ------------------------------------------ */

#define ORT_API_VERSION_USED 16u

/* Opaque handles. */
typedef struct OrtStatus OrtStatus;
typedef struct OrtEnv OrtEnv;
typedef struct OrtSession OrtSession;
typedef struct OrtSessionOptions OrtSessionOptions;
typedef struct OrtTypeInfo OrtTypeInfo;
typedef struct OrtTensorTypeAndShapeInfo OrtTensorTypeAndShapeInfo;
typedef struct OrtMemoryInfo OrtMemoryInfo;
typedef struct OrtAllocator OrtAllocator;
typedef struct OrtValue OrtValue;
typedef struct OrtRunOptions OrtRunOptions;

/* OrtApiBase: two function pointers. */
typedef struct {
    const void *(*GetApi)(uint32_t version);
    const char *(*GetVersionString)(void);
} ApiBase;

/* Enumerator values used here (C enums, passed as int). */
enum {
    LOGGING_LEVEL_WARNING = 2,
    GRAPH_OPT_ENABLE_ALL = 99,
    EXECUTION_MODE_SEQUENTIAL = 0,
    ALLOCATOR_ARENA = 1,
    MEM_TYPE_DEFAULT = 0,
    ELEMENT_TYPE_FLOAT = 1,
};

/* Slot numbers in the OrtApi table (append-only, so they hold for every runtime that offers version 16). */
enum {
    SLOT_GetErrorMessage = 2,
    SLOT_CreateEnv = 3,
    SLOT_CreateSession = 7,
    SLOT_Run = 9,
    SLOT_CreateSessionOptions = 10,
    SLOT_SetSessionExecutionMode = 13,
    SLOT_SetSessionGraphOptimizationLevel = 23,
    SLOT_SetIntraOpNumThreads = 24,
    SLOT_SetInterOpNumThreads = 25,
    SLOT_SessionGetInputCount = 30,
    SLOT_SessionGetOutputCount = 31,
    SLOT_SessionGetInputTypeInfo = 33,
    SLOT_SessionGetOutputTypeInfo = 34,
    SLOT_SessionGetInputName = 36,
    SLOT_SessionGetOutputName = 37,
    SLOT_CreateTensorWithDataAsOrtValue = 49,
    SLOT_CastTypeInfoToTensorInfo = 55,
    SLOT_GetTensorElementType = 60,
    SLOT_GetDimensionsCount = 61,
    SLOT_GetDimensions = 62,
    SLOT_GetTensorTypeAndShape = 65,
    SLOT_CreateCpuMemoryInfo = 69,
    SLOT_AllocatorFree = 76,
    SLOT_GetAllocatorWithDefaultOptions = 78,
    SLOT_ReleaseEnv = 92,
    SLOT_ReleaseStatus = 93,
    SLOT_ReleaseMemoryInfo = 94,
    SLOT_ReleaseSession = 95,
    SLOT_ReleaseValue = 96,
    SLOT_ReleaseTypeInfo = 98,
    SLOT_ReleaseTensorTypeAndShapeInfo = 99,
    SLOT_ReleaseSessionOptions = 100,
    SLOT_AddSessionConfigEntry = 130,
};

/* The functions used, typed. */
static struct {
    const char *(*GetErrorMessage)(const OrtStatus *status);
    OrtStatus *(*CreateEnv)(int log_level, const char *log_id, OrtEnv **out);
    OrtStatus *(*CreateSession)(const OrtEnv *env, const char *model_path, const OrtSessionOptions *options,
                                OrtSession **out);
    OrtStatus *(*Run)(OrtSession *session, const OrtRunOptions *run_options, const char *const *input_names,
                      const OrtValue *const *inputs, size_t input_len, const char *const *output_names,
                      size_t output_len, OrtValue **outputs);
    OrtStatus *(*CreateSessionOptions)(OrtSessionOptions **out);
    OrtStatus *(*SetSessionExecutionMode)(OrtSessionOptions *options, int mode);
    OrtStatus *(*SetSessionGraphOptimizationLevel)(OrtSessionOptions *options, int level);
    OrtStatus *(*SetIntraOpNumThreads)(OrtSessionOptions *options, int n);
    OrtStatus *(*SetInterOpNumThreads)(OrtSessionOptions *options, int n);
    OrtStatus *(*SessionGetInputCount)(const OrtSession *session, size_t *out);
    OrtStatus *(*SessionGetOutputCount)(const OrtSession *session, size_t *out);
    OrtStatus *(*SessionGetInputTypeInfo)(const OrtSession *session, size_t index, OrtTypeInfo **out);
    OrtStatus *(*SessionGetOutputTypeInfo)(const OrtSession *session, size_t index, OrtTypeInfo **out);
    OrtStatus *(*SessionGetInputName)(const OrtSession *session, size_t index, OrtAllocator *allocator, char **out);
    OrtStatus *(*SessionGetOutputName)(const OrtSession *session, size_t index, OrtAllocator *allocator, char **out);
    OrtStatus *(*CreateTensorWithDataAsOrtValue)(const OrtMemoryInfo *info, void *data, size_t data_len,
                                                 const int64_t *shape, size_t shape_len, int type, OrtValue **out);
    OrtStatus *(*CastTypeInfoToTensorInfo)(const OrtTypeInfo *type_info, const OrtTensorTypeAndShapeInfo **out);
    OrtStatus *(*GetTensorElementType)(const OrtTensorTypeAndShapeInfo *info, int *out);
    OrtStatus *(*GetDimensionsCount)(const OrtTensorTypeAndShapeInfo *info, size_t *out);
    OrtStatus *(*GetDimensions)(const OrtTensorTypeAndShapeInfo *info, int64_t *dims, size_t dims_len);
    OrtStatus *(*GetTensorTypeAndShape)(const OrtValue *value, OrtTensorTypeAndShapeInfo **out);
    OrtStatus *(*CreateCpuMemoryInfo)(int allocator_type, int mem_type, OrtMemoryInfo **out);
    OrtStatus *(*AllocatorFree)(OrtAllocator *allocator, void *p);
    OrtStatus *(*GetAllocatorWithDefaultOptions)(OrtAllocator **out);
    void (*ReleaseEnv)(OrtEnv *);
    void (*ReleaseStatus)(OrtStatus *);
    void (*ReleaseMemoryInfo)(OrtMemoryInfo *);
    void (*ReleaseSession)(OrtSession *);
    void (*ReleaseValue)(OrtValue *);
    void (*ReleaseTypeInfo)(OrtTypeInfo *);
    void (*ReleaseTensorTypeAndShapeInfo)(OrtTensorTypeAndShapeInfo *);
    void (*ReleaseSessionOptions)(OrtSessionOptions *);
    OrtStatus *(*AddSessionConfigEntry)(OrtSessionOptions *options, const char *key, const char *value);
} ort;

/* Copy slot `idx` of the table into a typed function pointer (memcpy keeps the object/function pointer
 * conversion out of the language's way). */
#define BIND(name) memcpy(&ort.name, &table[SLOT_##name], sizeof(void *))

static void bind_api(const void *const *table)
{
    BIND(GetErrorMessage);
    BIND(CreateEnv);
    BIND(CreateSession);
    BIND(Run);
    BIND(CreateSessionOptions);
    BIND(SetSessionExecutionMode);
    BIND(SetSessionGraphOptimizationLevel);
    BIND(SetIntraOpNumThreads);
    BIND(SetInterOpNumThreads);
    BIND(SessionGetInputCount);
    BIND(SessionGetOutputCount);
    BIND(SessionGetInputTypeInfo);
    BIND(SessionGetOutputTypeInfo);
    BIND(SessionGetInputName);
    BIND(SessionGetOutputName);
    BIND(CreateTensorWithDataAsOrtValue);
    BIND(CastTypeInfoToTensorInfo);
    BIND(GetTensorElementType);
    BIND(GetDimensionsCount);
    BIND(GetDimensions);
    BIND(GetTensorTypeAndShape);
    BIND(CreateCpuMemoryInfo);
    BIND(AllocatorFree);
    BIND(GetAllocatorWithDefaultOptions);
    BIND(ReleaseEnv);
    BIND(ReleaseStatus);
    BIND(ReleaseMemoryInfo);
    BIND(ReleaseSession);
    BIND(ReleaseValue);
    BIND(ReleaseTypeInfo);
    BIND(ReleaseTensorTypeAndShapeInfo);
    BIND(ReleaseSessionOptions);
    BIND(AddSessionConfigEntry);
}

/* ---- Errors -------------------------------------------------------------------------------------------- */

static const char *prog = "ort_baseline";

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

/* Abort with ONNX Runtime's message when a call fails. */
static void check(OrtStatus *status, const char *what)
{
    if (status == NULL)
        return;
    fprintf(stderr, "%s: %s failed: %s\n", prog, what, ort.GetErrorMessage(status));
    ort.ReleaseStatus(status);
    exit(1);
}

/* ---- Command line -------------------------------------------------------------------------------------- */

#define MAX_RANK 16
#define MAX_INPUT_ARGS 64

typedef struct {
    char *name;           /* points into argv */
    int rank;
    int64_t dims[MAX_RANK];
    int has_value;
    float value;
    int used;
} InputArg;

typedef struct {
    const char *lib;
    const char *model;
    long ticks;
    long warmup;
    double rate_hz;
    int threads;
    int spin;             /* -1: leave ONNX Runtime's default */
    int fifo;             /* 0: do not change the scheduling policy */
    int cpu;              /* -1: do not pin */
    int json;
    int n_inputs;
    InputArg inputs[MAX_INPUT_ARGS];
} Options;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s LIB MODEL [--ticks N] [--warmup N] [--rate HZ] [--threads N]\n"
            "                    [--input name=DxDxD[:value]]... [--spin 0|1] [--fifo PRIO] [--cpu N] [--json]\n"
            "  LIB               path of libonnxruntime.so.1\n"
            "  MODEL             ONNX model (float tensors in and out)\n"
            "  --ticks N         measured runs (default 1000)\n"
            "  --warmup N        unmeasured runs first (default 100)\n"
            "  --rate HZ         0 = back to back (default); otherwise paced on absolute deadlines\n"
            "  --threads N       intra-op threads (default 1); inter-op is 1, execution sequential\n"
            "  --input ...       shape (and constant value) of an input; dynamic dims default to 1\n"
            "  --spin 0|1        session.intra_op/inter_op.allow_spinning (default: ONNX Runtime's)\n"
            "  --fifo PRIO       SCHED_FIFO priority for the loop thread (warns and continues if refused)\n"
            "  --cpu N           pin the loop thread to CPU N (warns and continues if refused)\n"
            "  --json            one JSON object on stdout instead of the table\n",
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

/* name=DxDxD[:value]; an empty shape ("name=" or "name=:v") is a scalar. */
static void parse_input(char *arg, InputArg *in)
{
    char *eq = strrchr(arg, '=');
    if (eq == NULL || eq == arg)
        die("--input: expected name=DxDxD[:value], got '%s'", arg);
    *eq = '\0';
    in->name = arg;
    char *shape = eq + 1;
    char *colon = strchr(shape, ':');
    if (colon != NULL) {
        *colon = '\0';
        char *end;
        errno = 0;
        in->value = strtof(colon + 1, &end);
        if (errno != 0 || end == colon + 1 || *end != '\0')
            die("--input %s: bad value '%s'", arg, colon + 1);
        in->has_value = 1;
    }
    in->rank = 0;
    char *p = shape;
    while (*p != '\0') {
        if (in->rank == MAX_RANK)
            die("--input %s: more than %d dimensions", arg, MAX_RANK);
        char *end;
        errno = 0;
        long long d = strtoll(p, &end, 10);
        if (errno != 0 || end == p || d < 1 || (*end != 'x' && *end != '\0'))
            die("--input %s: bad shape '%s' (dimensions are positive integers joined by 'x')", arg, shape);
        in->dims[in->rank++] = d;
        p = *end == 'x' ? end + 1 : end;
        if (*end == 'x' && *p == '\0')
            die("--input %s: bad shape '%s'", arg, shape);
    }
}

static void parse_args(int argc, char **argv, Options *o)
{
    memset(o, 0, sizeof *o);
    o->ticks = 1000;
    o->warmup = 100;
    o->rate_hz = 0;
    o->threads = 1;
    o->spin = -1;
    o->cpu = -1;
    int positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_next = i + 1 < argc;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (strncmp(a, "--", 2) == 0) {
            if (!has_next)
                die("%s needs a value (see --help)", a);
            char *v = argv[++i];
            if (strcmp(a, "--ticks") == 0)
                o->ticks = parse_long(v, a, 1, 100000000);
            else if (strcmp(a, "--warmup") == 0)
                o->warmup = parse_long(v, a, 0, 100000000);
            else if (strcmp(a, "--rate") == 0)
                o->rate_hz = parse_double(v, a, 0, 1e6);
            else if (strcmp(a, "--threads") == 0)
                o->threads = (int)parse_long(v, a, 0, 1024);
            else if (strcmp(a, "--spin") == 0)
                o->spin = (int)parse_long(v, a, 0, 1);
            else if (strcmp(a, "--fifo") == 0)
                o->fifo = (int)parse_long(v, a, 1, 99);
            else if (strcmp(a, "--cpu") == 0)
                o->cpu = (int)parse_long(v, a, 0, CPU_SETSIZE - 1);
            else if (strcmp(a, "--input") == 0) {
                if (o->n_inputs == MAX_INPUT_ARGS)
                    die("too many --input options (at most %d)", MAX_INPUT_ARGS);
                parse_input(v, &o->inputs[o->n_inputs++]);
            } else
                die("unknown option %s (see --help)", a);
        } else if (positional == 0) {
            o->lib = a;
            positional++;
        } else if (positional == 1) {
            o->model = a;
            positional++;
        } else {
            die("unexpected argument '%s' (see --help)", a);
        }
    }
    if (positional != 2) {
        usage(stderr);
        exit(2);
    }
}

/* ---- Clock, scheduling, statistics --------------------------------------------------------------------- */

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

/* Returns 1 when applied; warns and returns 0 when the system refuses. */
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

/* Nearest-rank percentile of sorted samples: the smallest sample with at least num/den of all samples at or
 * below it, i.e. sorted[ceil(n * num / den) - 1], in integer arithmetic. */
static int64_t rank_pct(const int64_t *sorted, size_t n, uint64_t num, uint64_t den)
{
    uint64_t rank = ((uint64_t)n * num + den - 1) / den;
    if (rank < 1)
        rank = 1;
    return sorted[rank - 1];
}

/* Sorts the samples in place. */
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

static void print_row(const char *label, const Summary *s)
{
    printf("%-16s %11.3f %11.3f %11.3f %11.3f %11.3f %11.3f\n", label, s->p50 / 1e3, s->p90 / 1e3, s->p99 / 1e3,
           s->p999 / 1e3, s->max / 1e3, s->mean / 1e3);
}

static void print_json_summary(const Summary *s)
{
    printf("{\"p50\":%" PRId64 ",\"p90\":%" PRId64 ",\"p99\":%" PRId64 ",\"p999\":%" PRId64 ",\"max\":%" PRId64
           ",\"mean\":%" PRId64 "}",
           s->p50, s->p90, s->p99, s->p999, s->max, s->mean);
}

static void print_json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

/* ---- Tensors ------------------------------------------------------------------------------------------- */

typedef struct {
    char *name;           /* from ONNX Runtime's default allocator */
    int rank;
    int64_t dims[MAX_RANK];
    size_t count;         /* elements */
    float *data;
    OrtValue *value;
} Tensor;

static size_t element_count(const Tensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i] > 0 && n > SIZE_MAX / 4 / (size_t)t->dims[i])
            die("tensor '%s' is too large", t->name);
        n *= (size_t)t->dims[i];
    }
    return n;
}

static void format_shape(const Tensor *t, char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < t->rank && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%" PRId64, i ? "," : "", t->dims[i]);
    if (used < len)
        snprintf(buf + used, len - used, "]");
}

/* Reads element type and declared dimensions (-1 for dynamic) of a session input or output. */
static void declared_type(OrtTypeInfo *info, Tensor *t, const char *kind)
{
    const OrtTensorTypeAndShapeInfo *ti = NULL;
    check(ort.CastTypeInfoToTensorInfo(info, &ti), "CastTypeInfoToTensorInfo");
    if (ti == NULL)
        die("%s '%s' is not a tensor (sequence, map or optional); this baseline handles float tensors only", kind,
            t->name);
    int type = 0;
    check(ort.GetTensorElementType(ti, &type), "GetTensorElementType");
    if (type != ELEMENT_TYPE_FLOAT)
        die("%s '%s' has ONNX element type %d; this baseline handles float (type 1) tensors only", kind, t->name,
            type);
    size_t rank = 0;
    check(ort.GetDimensionsCount(ti, &rank), "GetDimensionsCount");
    if (rank > MAX_RANK)
        die("%s '%s' has rank %zu; at most %d is supported", kind, t->name, rank, MAX_RANK);
    t->rank = (int)rank;
    check(ort.GetDimensions(ti, t->dims, rank), "GetDimensions");
}

static float *alloc_floats(size_t count)
{
    size_t bytes = count * sizeof(float);
    size_t rounded = (bytes + 63) / 64 * 64;
    float *p = aligned_alloc(64, rounded ? rounded : 64);
    if (p == NULL)
        die("out of memory (%zu bytes)", bytes);
    memset(p, 0, rounded ? rounded : 64);
    return p;
}

/* Deterministic input pattern: a fixed integer hash of the element index, mapped to [-1, 1). */
static void fill_pattern(float *d, size_t n, unsigned salt)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t x = (uint32_t)i * 2654435761u + salt * 40503u + 0x9e3779b9u;
        x ^= x >> 15;
        x *= 0x2c1b3c6du;
        x ^= x >> 12;
        d[i] = (float)((int32_t)(x >> 8) - (1 << 23)) / (float)(1 << 23);
    }
}

static void make_value(const OrtMemoryInfo *mem, Tensor *t)
{
    check(ort.CreateTensorWithDataAsOrtValue(mem, t->data, t->count * sizeof(float), t->dims, (size_t)t->rank,
                                             ELEMENT_TYPE_FLOAT, &t->value),
          "CreateTensorWithDataAsOrtValue");
}

/* ---- Main ---------------------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    Options opt;
    parse_args(argc, argv, &opt);

    void *lib = dlopen(opt.lib, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL)
        die("cannot load %s: %s", opt.lib, dlerror());
    void *sym = dlsym(lib, "OrtGetApiBase");
    if (sym == NULL)
        die("%s does not export OrtGetApiBase", opt.lib);
    const ApiBase *(*get_api_base)(void);
    memcpy(&get_api_base, &sym, sizeof sym);
    const ApiBase *base = get_api_base();
    if (base == NULL)
        die("OrtGetApiBase returned NULL");
    const char *version = base->GetVersionString();
    const void *const *table = base->GetApi(ORT_API_VERSION_USED);
    if (table == NULL)
        die("ONNX Runtime %s does not offer C API version %u (1.16 or newer is needed)", version,
            ORT_API_VERSION_USED);
    bind_api(table);

    /* Environment and session. */
    OrtEnv *env = NULL;
    check(ort.CreateEnv(LOGGING_LEVEL_WARNING, "ort_baseline", &env), "CreateEnv");
    OrtSessionOptions *so = NULL;
    check(ort.CreateSessionOptions(&so), "CreateSessionOptions");
    check(ort.SetIntraOpNumThreads(so, opt.threads), "SetIntraOpNumThreads");
    check(ort.SetInterOpNumThreads(so, 1), "SetInterOpNumThreads");
    check(ort.SetSessionGraphOptimizationLevel(so, GRAPH_OPT_ENABLE_ALL), "SetSessionGraphOptimizationLevel");
    check(ort.SetSessionExecutionMode(so, EXECUTION_MODE_SEQUENTIAL), "SetSessionExecutionMode");
    if (opt.spin >= 0) {
        const char *v = opt.spin ? "1" : "0";
        check(ort.AddSessionConfigEntry(so, "session.intra_op.allow_spinning", v), "AddSessionConfigEntry");
        check(ort.AddSessionConfigEntry(so, "session.inter_op.allow_spinning", v), "AddSessionConfigEntry");
    }
    OrtSession *session = NULL;
    check(ort.CreateSession(env, opt.model, so, &session), "CreateSession");
    ort.ReleaseSessionOptions(so);

    OrtAllocator *allocator = NULL; /* owned by ONNX Runtime; never released */
    check(ort.GetAllocatorWithDefaultOptions(&allocator), "GetAllocatorWithDefaultOptions");
    OrtMemoryInfo *mem = NULL;
    check(ort.CreateCpuMemoryInfo(ALLOCATOR_ARENA, MEM_TYPE_DEFAULT, &mem), "CreateCpuMemoryInfo");

    size_t n_in = 0, n_out = 0;
    check(ort.SessionGetInputCount(session, &n_in), "SessionGetInputCount");
    check(ort.SessionGetOutputCount(session, &n_out), "SessionGetOutputCount");
    Tensor *in = calloc(n_in ? n_in : 1, sizeof *in);
    Tensor *out = calloc(n_out ? n_out : 1, sizeof *out);
    const char **in_names = calloc(n_in ? n_in : 1, sizeof *in_names);
    const char **out_names = calloc(n_out ? n_out : 1, sizeof *out_names);
    const OrtValue **in_values = calloc(n_in ? n_in : 1, sizeof *in_values);
    OrtValue **out_values = calloc(n_out ? n_out : 1, sizeof *out_values);
    if (!in || !out || !in_names || !out_names || !in_values || !out_values)
        die("out of memory");

    /* Inputs: declared shape, completed by --input; dynamic dimensions not given become 1. */
    for (size_t i = 0; i < n_in; i++) {
        Tensor *t = &in[i];
        check(ort.SessionGetInputName(session, i, allocator, &t->name), "SessionGetInputName");
        OrtTypeInfo *info = NULL;
        check(ort.SessionGetInputTypeInfo(session, i, &info), "SessionGetInputTypeInfo");
        declared_type(info, t, "input");
        ort.ReleaseTypeInfo(info);

        InputArg *given = NULL;
        for (int k = 0; k < opt.n_inputs; k++)
            if (strcmp(opt.inputs[k].name, t->name) == 0)
                given = &opt.inputs[k];
        if (given != NULL) {
            given->used = 1;
            if (given->rank != t->rank)
                die("--input %s: the model declares rank %d, the option gives %d dimensions", t->name, t->rank,
                    given->rank);
            for (int d = 0; d < t->rank; d++) {
                if (t->dims[d] >= 0 && t->dims[d] != given->dims[d])
                    die("--input %s: dimension %d is fixed at %" PRId64 " in the model, the option gives %" PRId64,
                        t->name, d, t->dims[d], given->dims[d]);
                t->dims[d] = given->dims[d];
            }
        } else {
            for (int d = 0; d < t->rank; d++)
                if (t->dims[d] < 0)
                    t->dims[d] = 1;
        }
        t->count = element_count(t);
        t->data = alloc_floats(t->count);
        if (given != NULL && given->has_value) {
            for (size_t e = 0; e < t->count; e++)
                t->data[e] = given->value;
        } else {
            fill_pattern(t->data, t->count, (unsigned)i);
        }
        make_value(mem, t);
        in_names[i] = t->name;
        in_values[i] = t->value;
    }
    for (int k = 0; k < opt.n_inputs; k++)
        if (!opt.inputs[k].used)
            die("--input %s: the model has no input of that name", opt.inputs[k].name);

    /* Outputs: check the declared type, then let one unmeasured run tell the concrete shapes (dynamic output
     * dimensions follow from the inputs), and preallocate them. */
    for (size_t i = 0; i < n_out; i++) {
        Tensor *t = &out[i];
        check(ort.SessionGetOutputName(session, i, allocator, &t->name), "SessionGetOutputName");
        OrtTypeInfo *info = NULL;
        check(ort.SessionGetOutputTypeInfo(session, i, &info), "SessionGetOutputTypeInfo");
        declared_type(info, t, "output");
        ort.ReleaseTypeInfo(info);
        out_names[i] = t->name;
        out_values[i] = NULL;
    }
    check(ort.Run(session, NULL, in_names, in_values, n_in, out_names, n_out, out_values), "Run (shape probe)");
    for (size_t i = 0; i < n_out; i++) {
        Tensor *t = &out[i];
        OrtTensorTypeAndShapeInfo *ti = NULL;
        check(ort.GetTensorTypeAndShape(out_values[i], &ti), "GetTensorTypeAndShape");
        int type = 0;
        size_t rank = 0;
        check(ort.GetTensorElementType(ti, &type), "GetTensorElementType");
        check(ort.GetDimensionsCount(ti, &rank), "GetDimensionsCount");
        if (type != ELEMENT_TYPE_FLOAT || rank > MAX_RANK)
            die("output '%s' came back as element type %d, rank %zu; expected float, rank <= %d", t->name, type,
                rank, MAX_RANK);
        t->rank = (int)rank;
        check(ort.GetDimensions(ti, t->dims, rank), "GetDimensions");
        ort.ReleaseTensorTypeAndShapeInfo(ti);
        ort.ReleaseValue(out_values[i]);
        t->count = element_count(t);
        t->data = alloc_floats(t->count);
        make_value(mem, t);
        out_values[i] = t->value;
    }

    /* Samples are allocated and touched before the loop; nothing is allocated inside it. */
    size_t n = (size_t)opt.ticks;
    int paced = opt.rate_hz > 0;
    int64_t *infer = calloc(n, sizeof *infer);
    int64_t *late = paced ? calloc(n, sizeof *late) : NULL;
    if (infer == NULL || (paced && late == NULL))
        die("out of memory for %zu samples", n);

    for (long w = 0; w < opt.warmup; w++)
        check(ort.Run(session, NULL, in_names, in_values, n_in, out_names, n_out, out_values), "Run (warm-up)");

    int fifo_applied = opt.fifo > 0 ? apply_fifo(opt.fifo) : 0;
    int cpu_applied = opt.cpu >= 0 ? apply_cpu(opt.cpu) : 0;

    long missed = 0;
    int64_t period = paced ? (int64_t)llround(1e9 / opt.rate_hz) : 0;
    if (paced && period < 1)
        period = 1;
    int64_t deadline = paced ? now_ns() + period : 0;
    for (size_t k = 0; k < n; k++) {
        if (paced) {
            sleep_until(deadline);
            late[k] = now_ns() - deadline;
        }
        int64_t t0 = now_ns();
        OrtStatus *st = ort.Run(session, NULL, in_names, in_values, n_in, out_names, n_out, out_values);
        int64_t t1 = now_ns();
        check(st, "Run");
        infer[k] = t1 - t0;
        if (paced) {
            /* The schedule stays on the fixed grid; a tick that ends after the next deadline is missed, and
             * deadlines already past are skipped rather than run back to back. */
            int64_t next = deadline + period;
            if (t1 > next) {
                missed++;
                next += ((t1 - next) / period + 1) * period;
            }
            deadline = next;
        }
    }

    Summary si = summarize(infer, n);
    Summary sl = {0};
    if (paced)
        sl = summarize(late, n);

    if (opt.json) {
        printf("{\"program\":\"ort_baseline\",\"ort_version\":");
        print_json_string(version);
        printf(",\"model\":");
        print_json_string(opt.model);
        printf(",\"threads\":%d,\"rate_hz\":%g,\"warmup\":%ld,\"ticks\":%zu,\"inputs\":[", opt.threads,
               opt.rate_hz, opt.warmup, n);
        for (size_t i = 0; i < n_in; i++) {
            printf("%s{\"name\":", i ? "," : "");
            print_json_string(in[i].name);
            printf(",\"shape\":[");
            for (int d = 0; d < in[i].rank; d++)
                printf("%s%" PRId64, d ? "," : "", in[i].dims[d]);
            printf("]}");
        }
        printf("],\"inference_ns\":");
        print_json_summary(&si);
        printf(",\"lateness_ns\":");
        if (paced)
            print_json_summary(&sl);
        else
            printf("null");
        printf(",\"missed_ticks\":%ld}\n", missed);
    } else {
        char shape[256];
        printf("ort_baseline: %s (ONNX Runtime %s, intra-op threads %d)\n", opt.model, version, opt.threads);
        for (size_t i = 0; i < n_in; i++) {
            format_shape(&in[i], shape, sizeof shape);
            printf("  input  %-20s float%s\n", in[i].name, shape);
        }
        for (size_t i = 0; i < n_out; i++) {
            format_shape(&out[i], shape, sizeof shape);
            printf("  output %-20s float%s\n", out[i].name, shape);
        }
        if (paced)
            printf("%zu ticks at %g Hz (period %" PRId64 " ns), %ld warm-up runs", n, opt.rate_hz, period, opt.warmup);
        else
            printf("%zu ticks back to back, %ld warm-up runs", n, opt.warmup);
        if (fifo_applied)
            printf(", SCHED_FIFO %d", opt.fifo);
        if (cpu_applied)
            printf(", CPU %d", opt.cpu);
        printf("\n\n%-16s %11s %11s %11s %11s %11s %11s\n", "(microseconds)", "p50", "p90", "p99", "p99.9", "max",
               "mean");
        print_row("inference", &si);
        if (paced) {
            print_row("wake lateness", &sl);
            printf("\nmissed ticks: %ld of %zu\n", missed, n);
        }
    }

    /* Release everything, so a leak checker sees only what ONNX Runtime keeps for itself. */
    free(infer);
    free(late);
    for (size_t i = 0; i < n_in; i++) {
        ort.ReleaseValue(in[i].value);
        free(in[i].data);
        check(ort.AllocatorFree(allocator, in[i].name), "AllocatorFree");
    }
    for (size_t i = 0; i < n_out; i++) {
        ort.ReleaseValue(out[i].value);
        free(out[i].data);
        check(ort.AllocatorFree(allocator, out[i].name), "AllocatorFree");
    }
    free(in);
    free(out);
    free(in_names);
    free(out_names);
    free(in_values);
    free(out_values);
    ort.ReleaseMemoryInfo(mem);
    ort.ReleaseSession(session);
    ort.ReleaseEnv(env);
    dlclose(lib);
    return 0;
}
