namespace Kairo.Onnx;

/// <summary>How much ONNX Runtime rewrites a graph before running it.</summary>
public enum GraphOptimizationLevel
{
    Disabled = 0,
    Basic = 1,
    Extended = 2,
    Layout = 3,
    All = 99,
}

/// <summary>One execution provider to try, with its provider-specific options.</summary>
/// <param name="Name">
/// <c>CANN</c>, <c>CUDA</c>, <c>XNNPACK</c>, <c>CPU</c>, or any name ONNX Runtime's generic provider call accepts
/// (<c>QNN</c>, <c>OpenVINO</c>, <c>SNPE</c>, <c>WebGPU</c>, ...).
/// </param>
/// <param name="Options">Provider options as ONNX Runtime names them, e.g. <c>device_id</c>, <c>npu_mem_limit</c>.</param>
/// <param name="Required">When true, a session is not created without this provider instead of falling back.</param>
public sealed record ExecutionProvider(string Name, IReadOnlyDictionary<string, string>? Options = null, bool Required = false)
{
    public static ExecutionProvider Cpu { get; } = new("CPU");
}

/// <summary>
/// Settings for one session. Execution providers are tried in order: one the loaded library lacks is skipped
/// (and reported in <see cref="InferenceSession.Providers"/>) unless it is marked required; CPU always ends the list.
/// </summary>
public sealed class SessionOptions
{
    /// <summary>Threads for one operator; 0 lets ONNX Runtime choose.</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>Threads across operators in parallel execution; 0 lets ONNX Runtime choose.</summary>
    public int InterOpThreads { get; init; }

    public GraphOptimizationLevel GraphOptimizationLevel { get; init; } = GraphOptimizationLevel.All;

    /// <summary>Run independent operators in parallel (inter-op threads) instead of one after another.</summary>
    public bool ParallelExecution { get; init; }

    /// <summary>Providers in priority order. Empty means CPU only.</summary>
    public IReadOnlyList<ExecutionProvider> ExecutionProviders { get; init; } = [];

    /// <summary>Where ONNX Runtime writes the optimized model, so later loads on this board skip the work.</summary>
    public string? OptimizedModelPath { get; init; }

    /// <summary>Session configuration entries (<c>session.*</c> keys of ONNX Runtime).</summary>
    public IReadOnlyDictionary<string, string>? ConfigEntries { get; init; }

    /// <summary>Log severity for this session: 0 verbose .. 4 fatal.</summary>
    public int LogSeverity { get; init; } = 3;

    /// <summary>A name for this session in ONNX Runtime's own log lines.</summary>
    public string? LogId { get; init; }

    /// <summary>Spin threads between runs (lower latency, burns a core) or let them sleep.</summary>
    public bool? AllowSpinning { get; init; }

    public static SessionOptions Default { get; } = new();
}

/// <summary>What happened to one requested execution provider when a session was created.</summary>
/// <param name="Name">The provider as requested.</param>
/// <param name="Appended">True when the session uses it; false when it was skipped.</param>
/// <param name="Reason">Why it was skipped, empty when appended.</param>
public sealed record ProviderOutcome(string Name, bool Appended, string Reason);
