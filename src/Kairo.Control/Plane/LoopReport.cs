using System.Text.Json.Nodes;
using Kairo.Runtime.Loops;
using Kairo.Runtime.Metrics;

namespace Kairo.Control.Plane;

/// <summary>A loop as the control plane reports it: in status, birth, telemetry and metrics.</summary>
public static class LoopReport
{
    /// <summary>What the loop is: name, state, rate, model, layout.</summary>
    public static JsonObject Describe(ControlLoop loop) => new()
    {
        ["name"] = loop.Name,
        ["state"] = loop.State.ToString().ToLowerInvariant(),
        ["rateHz"] = Math.Round(loop.RateHz, 6),
        ["missPolicy"] = loop.Options.MissPolicy.ToString().ToLowerInvariant(),
        ["safeOverride"] = loop.SafeOverride,
        ["model"] = new JsonObject { ["name"] = loop.Model.Name, ["version"] = loop.Model.Version, ["release"] = loop.Model.Source.Release },
        ["source"] = loop.Source.Description,
        ["sinks"] = new JsonArray(loop.Sinks.Select(s => (JsonNode?)s.Description).ToArray()),
        ["inputs"] = new JsonArray(loop.Layout.Input.Slots.Concat(loop.Layout.State.Slots).Select(s => (JsonNode?)s.ToString()).ToArray()),
        ["outputs"] = new JsonArray(loop.Layout.Output.Slots.Select(s => (JsonNode?)s.ToString()).ToArray()),
    };

    /// <summary>
    /// The counters and latency percentiles since the loop was created; with <paramref name="recentMisses"/>, also the
    /// newest missed ticks with their CLOCK_MONOTONIC times (for <c>metrics.get</c>, not for every telemetry message).
    /// </summary>
    public static JsonObject Metrics(ControlLoop loop, bool recentMisses = false)
    {
        var m = loop.Metrics;
        var misses = new JsonObject();
        foreach (var cause in Enum.GetValues<MissCause>())
        {
            misses[cause.ToName()] = m.Misses(cause);
        }

        var report = new JsonObject
        {
            ["loop"] = loop.Name,
            ["ts"] = DateTimeOffset.UtcNow.ToString("O"),
            ["state"] = loop.State.ToString().ToLowerInvariant(),
            ["rateHz"] = Math.Round(loop.RateHz, 6),
            ["model"] = new JsonObject { ["name"] = loop.Model.Name, ["version"] = loop.Model.Version },
            ["ticks"] = m.Ticks,
            ["outputs"] = new JsonObject { ["fresh"] = m.FreshOutputs, ["held"] = m.HeldOutputs, ["safe"] = m.SafeOutputs, ["skipped"] = m.SkippedOutputs },
            ["deadlineMisses"] = m.DeadlineMisses,
            ["misses"] = misses,
            ["staleInputs"] = m.StaleInputs,
            ["nanOutputs"] = m.NanOutputs,
            ["swaps"] = m.Swaps,
            ["allocatedBytes"] = m.AllocatedBytes,
            ["source"] = new JsonObject { ["frames"] = loop.Source.Counters.Frames, ["dropped"] = loop.Source.Counters.Dropped },
            ["inferenceNs"] = Percentiles(m.Inference.Snapshot()),
            ["latenessNs"] = Percentiles(m.WakeLateness.Snapshot()),
            ["endToEndNs"] = Percentiles(m.EndToEnd.Snapshot()),
        };
        if (recentMisses)
        {
            report["recentMisses"] = new JsonArray(m.RecentMisses().Select(r => (JsonNode?)Miss(r)).ToArray());
        }

        return report;
    }

    /// <summary>One missed tick: why, by how much, and when (CLOCK_MONOTONIC nanoseconds).</summary>
    public static JsonObject Miss(MissRecord r) => new()
    {
        ["seq"] = r.Sequence,
        ["tick"] = r.Tick,
        ["cause"] = r.Cause.ToName(),
        ["overruns"] = r.Overruns,
        ["overshootNs"] = r.OvershootNanoseconds,
        ["releaseNs"] = r.Release,
        ["deadlineNs"] = r.Deadline,
        ["wakeNs"] = r.Wake,
        ["finishedNs"] = r.Finished,
        ["endNs"] = r.End,
        ["periodNs"] = r.Period,
    };

    public static JsonObject Percentiles(HistogramSnapshot s) => new()
    {
        ["count"] = s.Count,
        ["p50"] = s.P50,
        ["p90"] = s.P90,
        ["p99"] = s.P99,
        ["p999"] = s.P999,
        ["max"] = s.Max,
        ["mean"] = Math.Round(s.Mean, 1),
    };
}
