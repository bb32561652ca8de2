using System.Text.Json;

namespace Kairo.EndToEnd.Tests;

/// <summary>
/// The published <c>kairoctl bench</c> on a real model and the real ONNX Runtime. Only facts that hold on any machine
/// are asserted (counts, zero allocation, the order of percentiles); speed is the business of scripts/bench.
/// </summary>
public sealed class BenchCommandTests
{
    private static string MlpPolicy => Path.Combine(Bundle.Directory, "models", "mlp_policy.onnx");

    [Fact]
    public void Bench_json_reports_every_tick_without_allocating_and_ordered_percentiles()
    {
        ProcessResult run = Bundle.Run("kairoctl", ["bench", MlpPolicy, "--rate", "200", "--ticks", "300", "--json"]);

        Assert.True(run.ExitCode == 0, run.ToString());
        using JsonDocument document = JsonDocument.Parse(run.Stdout);
        JsonElement root = document.RootElement;
        Assert.True(root.GetProperty("ticks").GetInt64() >= 300, run.ToString());
        Assert.Equal(200, root.GetProperty("rate_hz").GetDouble());
        Assert.Equal(MlpPolicy, root.GetProperty("model").GetString());
        Assert.Equal(0, root.GetProperty("allocated_bytes_per_tick").GetDouble());

        JsonElement input = Assert.Single(root.GetProperty("inputs").EnumerateArray());
        Assert.Equal("observation", input.GetProperty("name").GetString());
        Assert.Equal([1L, 48L], input.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()));

        foreach (string figure in new[] { "inference_ns", "lateness_ns", "e2e_ns" })
        {
            JsonElement summary = root.GetProperty(figure);
            long p50 = summary.GetProperty("p50").GetInt64();
            long p90 = summary.GetProperty("p90").GetInt64();
            long p99 = summary.GetProperty("p99").GetInt64();
            long p999 = summary.GetProperty("p999").GetInt64();
            long max = summary.GetProperty("max").GetInt64();
            Assert.True(p50 <= p90 && p90 <= p99 && p99 <= p999 && p999 <= max, $"{figure}: p50 {p50} p90 {p90} p99 {p99} p99.9 {p999} max {max}\n{run}");
        }

        // Inference is timed inside the end-to-end span of the same tick, so its median cannot be the longer one.
        Assert.True(root.GetProperty("inference_ns").GetProperty("p50").GetInt64() <= root.GetProperty("e2e_ns").GetProperty("p50").GetInt64(), run.ToString());

        JsonElement causes = root.GetProperty("missed_by_cause");
        long byCause = causes.EnumerateObject().Sum(c => c.Value.GetInt64());
        Assert.Equal(root.GetProperty("missed_ticks").GetInt64(), byCause);
        Assert.Equal(0, causes.GetProperty("inference_error").GetInt64());

        // Every measured tick hands one frame to the sink: a fresh output, or the safe output when it missed.
        Assert.Equal(root.GetProperty("ticks").GetInt64(), root.GetProperty("frames_to_sink").GetInt64());
    }

    [Fact]
    public void Bench_refuses_a_rate_above_1000_Hz_naming_the_option_and_exits_2()
    {
        ProcessResult run = Bundle.Run("kairoctl", ["bench", MlpPolicy, "--rate", "5000"]);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("--rate must be between 1 and 1000 Hz (got 5000)", run.Stderr);
    }

    [Fact]
    public void Bench_names_an_input_the_model_lacks_and_exits_2()
    {
        ProcessResult run = Bundle.Run("kairoctl", ["bench", MlpPolicy, "--input", "camera=1x3x66x200", "--ticks", "10"]);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("input 'camera'", run.Stderr);
        Assert.Contains("observation", run.Stderr);
    }
}
