namespace Kairo.Runtime.Loops;

/// <summary>What a loop emits when a tick's result is not ready by its deadline.</summary>
public enum MissPolicy
{
    /// <summary>Emit nothing for that tick.</summary>
    Skip,

    /// <summary>Repeat the last output.</summary>
    Hold,

    /// <summary>Emit the configured safe output (e.g. zero throttle).</summary>
    Safe,
}

/// <summary>One recurrent state edge: after every tick, output <see cref="From"/> becomes input <see cref="To"/>.</summary>
public sealed record StateEdge(string From, string To);

/// <summary>How a loop runs. Rates are checked against <see cref="MinRateHz"/>..<see cref="MaxRateHz"/> by the profile.</summary>
public sealed class LoopOptions
{
    public const double MinRateHz = 1;
    public const double MaxRateHz = 1000;

    public required string Name { get; init; }

    public required double RateHz { get; init; }

    /// <summary>Time from a tick's release by which its output must be ready; the period when null.</summary>
    public TimeSpan? Deadline { get; init; }

    public MissPolicy MissPolicy { get; init; } = MissPolicy.Safe;

    /// <summary>
    /// Safe output values per output name: one value fills the whole tensor, otherwise one per element. Outputs
    /// not named are zero in the safe output.
    /// </summary>
    public IReadOnlyDictionary<string, float[]> SafeOutputs { get; init; } = new Dictionary<string, float[]>();

    /// <summary>CPUs the loop thread may run on; all when empty.</summary>
    public IReadOnlyList<int> CpuAffinity { get; init; } = [];

    /// <summary>SCHED_FIFO priority 1..99 for the loop thread; normal scheduling when null.</summary>
    public int? Priority { get; init; }

    /// <summary>Fixed shapes for inputs the model leaves dynamic; a dynamic dimension not given here is 1.</summary>
    public IReadOnlyDictionary<string, long[]> InputShapes { get; init; } = new Dictionary<string, long[]>();

    public IReadOnlyList<StateEdge> State { get; init; } = [];

    /// <summary>Runs before steady state whose allocations are not counted (first-run work of the runtime).</summary>
    public int WarmupTicks { get; init; } = 100;
}
