using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Kairo.Onnx;
using Kairo.Runtime.Loops;
using Kairo.Runtime.Metrics;

namespace Kairo.Ctl;

/// <summary>The figures of one <c>kairoctl bench</c> run, over the ticks after warm-up.</summary>
internal sealed record BenchResult(
    LoopLayout Layout,
    long Ticks,
    HistogramSnapshot Inference,
    HistogramSnapshot WakeLateness,
    HistogramSnapshot EndToEnd,
    double AllocatedBytesPerTick,
    long AllocatedBytes,
    long[] Misses,
    long FramesToSink,
    float? Constant,
    string[] Warnings)
{
    public long MissedTicks => Misses.Sum();

    public long MissedFor(MissCause cause) => Misses[(int)cause];
}

/// <summary>
/// <c>kairoctl bench --json</c>: shaped like the C baselines' documents (bench/README.md), so scripts read both the
/// same way. Every duration is an integer number of nanoseconds.
/// </summary>
internal sealed record BenchReport(
    string Program,
    string OrtVersion,
    string Model,
    int Threads,
    double RateHz,
    int Warmup,
    long Ticks,
    BenchReport.InputReport[] Inputs,
    string Pattern,
    float? Value,
    BenchReport.Summary InferenceNs,
    BenchReport.Summary LatenessNs,
    BenchReport.Summary E2eNs,
    double AllocatedBytesPerTick,
    long AllocatedBytes,
    long MissedTicks,
    BenchReport.MissReport MissedByCause,
    long FramesToSink,
    string[] Warnings)
{
    public static BenchReport Of(BenchSettings settings, BenchResult result) => new(
        "kairoctl bench",
        OnnxRuntimeLibrary.Version,
        settings.ModelPath,
        settings.Threads,
        settings.RateHz,
        settings.Warmup,
        result.Ticks,
        result.Layout.Input.Slots.Select(s => new InputReport(s.Name, s.Shape)).ToArray(),
        result.Constant.HasValue ? "constant" : "wave",
        result.Constant,
        Summary.Of(result.Inference),
        Summary.Of(result.WakeLateness),
        Summary.Of(result.EndToEnd),
        result.AllocatedBytesPerTick,
        result.AllocatedBytes,
        result.MissedTicks,
        new MissReport(
            result.MissedFor(MissCause.LateWakeup),
            result.MissedFor(MissCause.SlowInference),
            result.MissedFor(MissCause.InferenceError),
            result.MissedFor(MissCause.Overrun)),
        result.FramesToSink,
        result.Warnings);

    public string ToJson() => JsonSerializer.Serialize(this, BenchJson.Default.BenchReport);

    /// <summary>The human report: the loop's setup, then one row of percentiles per histogram, in microseconds like the C baselines.</summary>
    public static void WriteTable(TextWriter output, BenchSettings settings, BenchResult result)
    {
        var text = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(text,
            $"kairoctl bench: {settings.ModelPath} (ONNX Runtime {OnnxRuntimeLibrary.Version}, intra-op threads {settings.Threads})"));
        string fill = result.Constant is { } c ? string.Create(text, $"synthetic constant {c}") : "synthetic wave";
        foreach (var slot in result.Layout.Input.Slots)
        {
            output.WriteLine($"  input  {slot.Name,-20} {slot.ElementType.OnnxName()}[{string.Join(',', slot.Shape)}]  ({fill})");
        }

        foreach (var slot in result.Layout.State.Slots)
        {
            output.WriteLine($"  state  {slot.Name,-20} {slot.ElementType.OnnxName()}[{string.Join(',', slot.Shape)}]");
        }

        foreach (var slot in result.Layout.Output.Slots)
        {
            output.WriteLine($"  output {slot.Name,-20} {slot.ElementType.OnnxName()}[{string.Join(',', slot.Shape)}]");
        }

        long period = (long)Math.Round(1e9 / settings.RateHz);
        output.WriteLine(string.Create(text,
            $"{result.Ticks} ticks at {settings.RateHz} Hz (period {period} ns) after {settings.Warmup} warm-up ticks"));
        output.WriteLine();
        output.WriteLine(string.Create(text, $"{"(microseconds)",-16} {"p50",11} {"p90",11} {"p99",11} {"p99.9",11} {"max",11} {"mean",11}"));
        WriteRow(output, "inference", result.Inference);
        WriteRow(output, "wake lateness", result.WakeLateness);
        WriteRow(output, "end to end", result.EndToEnd);
        output.WriteLine();
        output.WriteLine(string.Create(text,
            $"allocated on the loop thread: {result.AllocatedBytesPerTick:0.###} bytes per tick ({result.AllocatedBytes} bytes in {result.Ticks} ticks)"));
        output.WriteLine(string.Create(text,
            $"missed ticks: {result.MissedTicks} (late wake-up {result.MissedFor(MissCause.LateWakeup)}, slow inference {result.MissedFor(MissCause.SlowInference)}, " +
            $"inference error {result.MissedFor(MissCause.InferenceError)}, skipped by overrun {result.MissedFor(MissCause.Overrun)})"));
        output.WriteLine(string.Create(text, $"frames handed to the sink: {result.FramesToSink}"));
    }

    private static void WriteRow(TextWriter output, string label, HistogramSnapshot h) =>
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{label,-16} {h.P50 / 1e3,11:F3} {h.P90 / 1e3,11:F3} {h.P99 / 1e3,11:F3} {h.P999 / 1e3,11:F3} {h.Max / 1e3,11:F3} {h.Mean / 1e3,11:F3}"));

    internal sealed record InputReport(string Name, long[] Shape);

    /// <summary>Percentiles as the loop's histograms give them: each the upper bound of its bucket (at most 1/64 above the exact value).</summary>
    internal sealed record Summary(long P50, long P90, long P99, long P999, long Max, long Mean)
    {
        public static Summary Of(HistogramSnapshot h) => new(h.P50, h.P90, h.P99, h.P999, h.Max, (long)Math.Round(h.Mean));
    }

    internal sealed record MissReport(long LateWakeup, long SlowInference, long InferenceError, long Overrun);
}

/// <summary>Source-generated JSON for <c>kairoctl bench --json</c> (kairoctl is NativeAOT: no reflection).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(BenchReport))]
internal sealed partial class BenchJson : JsonSerializerContext
{
}
