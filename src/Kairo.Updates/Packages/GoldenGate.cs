using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Kairo.Onnx;
using Kairo.Onnx.TestData;

namespace Kairo.Updates.Packages;

/// <summary>
/// The last gate before a model goes live: its golden vectors must reproduce within the manifest's tolerance on
/// this machine's ONNX Runtime (<see cref="TestCaseRunner"/>), and the p99 latency of repeated runs of them must be
/// under the manifest's budget. Run it on a package that <see cref="PackageVerifier"/> passed. ONNX Runtime must be loaded.
/// </summary>
public sealed class GoldenGate
{
    private static readonly unsafe nint s_emptyTensorData = (nint)NativeMemory.AllocZeroed(1);

    public GoldenGate(SessionOptions? sessionOptions = null)
    {
        SessionOptions = sessionOptions ?? new SessionOptions { IntraOpThreads = 1, InterOpThreads = 1, LogSeverity = 4 };
    }

    /// <summary>How the model is loaded: the providers and threads the loop will run it with.</summary>
    public SessionOptions SessionOptions { get; }

    /// <summary>Untimed runs first, so that the timed ones see warm caches and allocators.</summary>
    public int WarmupRuns { get; init; } = 5;

    /// <summary>Timed runs, cycling through the data sets; the p99 of these is held against the budget.</summary>
    public int TimedRuns { get; init; } = 200;

    public GoldenResult Run(string packageDirectory, PackageManifest manifest, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(packageDirectory);
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentOutOfRangeException.ThrowIfLessThan(TimedRuns, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(WarmupRuns);

        List<List<string>> dataSets = DataSetInputs(manifest);
        if (dataSets.Count == 0)
        {
            return new GoldenResult([PackageCheck.Fail("golden", UpdateFailure.GoldenMismatch,
                "the package lists no golden vectors (test_data_set_N/input_K.pb); pack it with --golden or --generate")], 0, null);
        }

        var runner = new TestCaseRunner(SessionOptions, manifest.Tolerance);
        TestCaseResult values = runner.Run(new TestCase(manifest.Model, packageDirectory));
        if (!values.Passed)
        {
            return new GoldenResult([PackageCheck.Fail("golden", UpdateFailure.GoldenMismatch,
                $"the golden vectors do not reproduce within {manifest.Tolerance}: {values.Message}")], values.DataSetCount, null);
        }

        var golden = PackageCheck.Pass("golden", string.Create(CultureInfo.InvariantCulture,
            $"{values.DataSetCount} data {(values.DataSetCount == 1 ? "set" : "sets")} within {manifest.Tolerance}"));
        cancellationToken.ThrowIfCancellationRequested();

        GoldenLatency latency;
        try
        {
            latency = MeasureLatency(packageDirectory, dataSets, cancellationToken);
        }
        catch (Exception ex) when (ex is OnnxRuntimeException or InvalidDataException or IOException)
        {
            return new GoldenResult([golden, PackageCheck.Fail("latency", UpdateFailure.GoldenMismatch, $"the timed runs failed: {ex.Message}")], values.DataSetCount, null);
        }

        string measured = string.Create(CultureInfo.InvariantCulture,
            $"p99 {latency.P99Ms:F3} ms (p50 {latency.P50Ms:F3}, max {latency.MaxMs:F3}) over {latency.Runs} runs");
        PackageCheck timing = latency.P99Ms < manifest.LatencyBudgetMs
            ? PackageCheck.Pass("latency", string.Create(CultureInfo.InvariantCulture, $"{measured}, under the {manifest.LatencyBudgetMs:G} ms budget"))
            : PackageCheck.Fail("latency", UpdateFailure.LatencyBudget, string.Create(CultureInfo.InvariantCulture,
                $"{measured} is not under the {manifest.LatencyBudgetMs:G} ms budget; the model is too slow for this board"));
        return new GoldenResult([golden, timing], values.DataSetCount, latency);
    }

    /// <summary>Each data set's input files (package paths), in numeric order of set and input, from the signed file list.</summary>
    internal static List<List<string>> DataSetInputs(PackageManifest manifest)
    {
        var sets = new SortedDictionary<int, SortedDictionary<int, string>>();
        foreach (PackageFile file in manifest.Files)
        {
            string[] parts = file.Path.Split('/');
            if (parts.Length != 2 || GoldenVectors.Number(parts[0], "test_data_set_", "") is not { } set)
            {
                continue;
            }

            // A set counts once it holds any file: a model without inputs has sets of outputs only.
            if (!sets.TryGetValue(set, out var inputs))
            {
                sets[set] = inputs = [];
            }

            if (GoldenVectors.Number(parts[1], "input_", ".pb") is { } input)
            {
                inputs[input] = file.Path;
            }
        }

        return sets.Values.Select(inputs => inputs.Values.ToList()).ToList();
    }

    private GoldenLatency MeasureLatency(string directory, List<List<string>> dataSets, CancellationToken cancellationToken)
    {
        using InferenceSession session = InferenceSession.Open(Path.Combine(directory, PackagePaths.Model), SessionOptions);
        var feeds = new List<OrtTensor?[]>();
        try
        {
            foreach (List<string> inputs in dataSets)
            {
                var feed = new OrtTensor?[session.Inputs.Count];
                feeds.Add(feed);
                for (int k = 0; k < inputs.Count; k++)
                {
                    TensorData data = TensorProtoCodec.ReadFile(PackagePaths.Resolve(directory, inputs[k]));
                    int slot = string.IsNullOrEmpty(data.Name) || session.InputIndex(data.Name) < 0 ? k : session.InputIndex(data.Name);
                    if (slot >= feed.Length || feed[slot] is not null)
                    {
                        throw new InvalidDataException($"{inputs[k]} has no model input of its own to feed");
                    }

                    feed[slot] = CreateTensor(data);
                }

                int missing = Array.IndexOf(feed, null);
                if (missing >= 0)
                {
                    throw new InvalidDataException($"no input_K.pb feeds model input '{session.Inputs[missing].Name}'");
                }
            }

            for (int i = 0; i < WarmupRuns; i++)
            {
                DisposeAll(session.Run(feeds[i % feeds.Count]!));
            }

            var samples = new double[TimedRuns];
            for (int i = 0; i < samples.Length; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                long started = Stopwatch.GetTimestamp();
                OrtTensor[] outputs = session.Run(feeds[i % feeds.Count]!);
                samples[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                DisposeAll(outputs);
            }

            Array.Sort(samples);
            return new GoldenLatency(samples.Length, NearestRank(samples, 0.50), NearestRank(samples, 0.99), samples[^1]);
        }
        finally
        {
            foreach (OrtTensor?[] feed in feeds)
            {
                DisposeAll(feed);
            }
        }
    }

    /// <summary>The smallest sample at or above the <paramref name="quantile"/> of the sorted samples.</summary>
    internal static double NearestRank(double[] sorted, double quantile) =>
        sorted[Math.Clamp((int)Math.Ceiling(quantile * sorted.Length) - 1, 0, sorted.Length - 1)];

    private static OrtTensor CreateTensor(TensorData data)
    {
        if (data.ElementType == TensorElementType.String)
        {
            return OrtTensor.CreateStrings(data.GetStrings(), data.Dims);
        }

        if (data.ElementCount == 0)
        {
            // An empty tensor still needs a data pointer; this one byte is never read.
            return OrtTensor.CreateOver(data.ElementType, s_emptyTensorData, 0, data.Dims);
        }

        OrtTensor tensor = OrtTensor.Allocate(data.ElementType, data.Dims);
        data.RawData.CopyTo(tensor.GetBytes());
        return tensor;
    }

    private static void DisposeAll(OrtTensor?[] tensors)
    {
        foreach (OrtTensor? tensor in tensors)
        {
            tensor?.Dispose();
        }
    }
}

/// <summary>Latency of the golden runs, in milliseconds.</summary>
public sealed record GoldenLatency(int Runs, double P50Ms, double P99Ms, double MaxMs);

/// <summary>What <see cref="GoldenGate.Run"/> found: the <c>golden</c> check, then the <c>latency</c> check once values passed.</summary>
public sealed record GoldenResult(IReadOnlyList<PackageCheck> Checks, int DataSets, GoldenLatency? Latency)
{
    public bool Passed => Checks.All(c => c.Passed);

    public PackageCheck? FailedCheck => Checks.FirstOrDefault(c => !c.Passed);

    public UpdateFailure? Failure => FailedCheck?.Failure;
}
