using System.Text.Json;
using System.Text.Json.Nodes;
using Kairo.Runtime.Loops;
using Kairo.Runtime.Metrics;

namespace Kairo.Control.Plane;

/// <summary>
/// A loop as the control plane reports it: in status, birth, telemetry and metrics. Written straight into a reply or
/// a message (the <c>Write</c> methods); the node forms are for the few places that keep a tree.
/// </summary>
public static class LoopReport
{
    /// <summary>What the loop is: name, state, rate, model, layout.</summary>
    public static JsonObject Describe(ControlLoop loop) => Json.Object(w => WriteDescription(w, loop));

    /// <summary>
    /// The counters and latency percentiles since the loop was created; with <paramref name="recentMisses"/>, also the
    /// newest missed ticks with their CLOCK_MONOTONIC times (for <c>metrics.get</c>, not for every telemetry message).
    /// </summary>
    public static JsonObject Metrics(ControlLoop loop, bool recentMisses = false) => Json.Object(w => WriteMetrics(w, loop, recentMisses));

    /// <summary>One missed tick: why, by how much, and when (CLOCK_MONOTONIC nanoseconds).</summary>
    public static JsonObject Miss(MissRecord record) => Json.Object(w => WriteMiss(w, record));

    public static void WriteDescription(Utf8JsonWriter w, ControlLoop loop)
    {
        w.WriteStartObject();
        w.WriteString("name"u8, loop.Name);
        w.WriteString("state"u8, LowerName.Of(loop.State));
        w.WriteNumber("rateHz"u8, Math.Round(loop.RateHz, 6));
        w.WriteString("missPolicy"u8, LowerName.Of(loop.Options.MissPolicy));
        w.WriteBoolean("safeOverride"u8, loop.SafeOverride);
        var model = loop.Model;
        w.WriteStartObject("model"u8);
        w.WriteString("name"u8, model.Name);
        w.WriteNumber("version"u8, model.Version);
        w.WriteString("release"u8, model.Source.Release);
        w.WriteEndObject();
        w.WriteString("source"u8, loop.Source.Description);
        w.WriteStartArray("sinks"u8);
        foreach (var sink in loop.Sinks)
        {
            w.WriteStringValue(sink.Description);
        }

        w.WriteEndArray();
        var layout = loop.Layout;
        w.WriteStartArray("inputs"u8);
        foreach (var slot in layout.Input.Slots)
        {
            w.WriteStringValue(slot.ToString());
        }

        foreach (var slot in layout.State.Slots)
        {
            w.WriteStringValue(slot.ToString());
        }

        w.WriteEndArray();
        w.WriteStartArray("outputs"u8);
        foreach (var slot in layout.Output.Slots)
        {
            w.WriteStringValue(slot.ToString());
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    public static void WriteMetrics(Utf8JsonWriter w, ControlLoop loop, bool recentMisses)
    {
        var m = loop.Metrics;
        w.WriteStartObject();
        w.WriteString("loop"u8, loop.Name);
        w.WriteString("ts"u8, DateTimeOffset.UtcNow);
        w.WriteString("state"u8, LowerName.Of(loop.State));
        w.WriteNumber("rateHz"u8, Math.Round(loop.RateHz, 6));
        w.WriteStartObject("model"u8);
        w.WriteString("name"u8, loop.Model.Name);
        w.WriteNumber("version"u8, loop.Model.Version);
        w.WriteEndObject();
        w.WriteNumber("ticks"u8, m.Ticks);
        w.WriteStartObject("outputs"u8);
        w.WriteNumber("fresh"u8, m.FreshOutputs);
        w.WriteNumber("held"u8, m.HeldOutputs);
        w.WriteNumber("safe"u8, m.SafeOutputs);
        w.WriteNumber("skipped"u8, m.SkippedOutputs);
        w.WriteEndObject();
        w.WriteNumber("deadlineMisses"u8, m.DeadlineMisses);
        w.WriteStartObject("misses"u8);
        foreach (var cause in LowerName.Values<MissCause>())
        {
            w.WriteNumber(cause.ToName(), m.Misses(cause));
        }

        w.WriteEndObject();
        w.WriteNumber("staleInputs"u8, m.StaleInputs);
        w.WriteNumber("nanOutputs"u8, m.NanOutputs);
        w.WriteNumber("swaps"u8, m.Swaps);
        w.WriteNumber("allocatedBytes"u8, m.AllocatedBytes);
        w.WriteStartObject("source"u8);
        w.WriteNumber("frames"u8, loop.Source.Counters.Frames);
        w.WriteNumber("dropped"u8, loop.Source.Counters.Dropped);
        w.WriteEndObject();
        w.WriteStartArray("sinks"u8);
        foreach (var sink in loop.Sinks)
        {
            w.WriteStartObject();
            w.WriteString("sink"u8, sink.Description);
            w.WriteNumber("written"u8, sink.Counters.Written);
            w.WriteNumber("failed"u8, sink.Counters.Failed);
            if (sink is MqttSink mqtt)
            {
                w.WriteNumber("unsent"u8, mqtt.Unsent);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WritePropertyName("inferenceNs"u8);
        WritePercentiles(w, m.Inference.Snapshot());
        w.WritePropertyName("latenessNs"u8);
        WritePercentiles(w, m.WakeLateness.Snapshot());
        w.WritePropertyName("endToEndNs"u8);
        WritePercentiles(w, m.EndToEnd.Snapshot());
        if (recentMisses)
        {
            w.WriteStartArray("recentMisses"u8);
            foreach (var record in m.RecentMisses())
            {
                WriteMiss(w, record);
            }

            w.WriteEndArray();
        }

        w.WriteEndObject();
    }

    public static void WriteMiss(Utf8JsonWriter w, MissRecord r)
    {
        w.WriteStartObject();
        w.WriteNumber("seq"u8, r.Sequence);
        w.WriteNumber("tick"u8, r.Tick);
        w.WriteString("cause"u8, r.Cause.ToName());
        w.WriteNumber("overruns"u8, r.Overruns);
        w.WriteNumber("overshootNs"u8, r.OvershootNanoseconds);
        w.WriteNumber("releaseNs"u8, r.Release);
        w.WriteNumber("deadlineNs"u8, r.Deadline);
        w.WriteNumber("wakeNs"u8, r.Wake);
        w.WriteNumber("finishedNs"u8, r.Finished);
        w.WriteNumber("endNs"u8, r.End);
        w.WriteNumber("periodNs"u8, r.Period);
        w.WriteNumber("gcPauseNs"u8, r.GcPause);
        w.WriteEndObject();
    }

    public static void WritePercentiles(Utf8JsonWriter w, HistogramSnapshot s)
    {
        w.WriteStartObject();
        w.WriteNumber("count"u8, s.Count);
        w.WriteNumber("p50"u8, s.P50);
        w.WriteNumber("p90"u8, s.P90);
        w.WriteNumber("p99"u8, s.P99);
        w.WriteNumber("p999"u8, s.P999);
        w.WriteNumber("max"u8, s.Max);
        w.WriteNumber("mean"u8, Math.Round(s.Mean, 1));
        w.WriteEndObject();
    }
}

/// <summary>An enum value's name in lower case, as the control plane writes states and policies; made once per type.</summary>
public static class LowerName
{
    public static string Of<T>(T value)
        where T : struct, Enum => Cache<T>.Names.TryGetValue(value, out string? name) ? name : value.ToString().ToLowerInvariant();

    public static T[] Values<T>()
        where T : struct, Enum => Cache<T>.Values;

    private static class Cache<T>
        where T : struct, Enum
    {
        public static readonly T[] Values = Enum.GetValues<T>();

        public static readonly Dictionary<T, string> Names = Values.Distinct().ToDictionary(v => v, v => v.ToString().ToLowerInvariant());
    }
}
