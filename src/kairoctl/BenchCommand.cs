using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Kairo.Onnx;
using Kairo.Runtime.Frames;
using Kairo.Runtime.Loops;
using Kairo.Runtime.Metrics;
using Kairo.Runtime.Sinks;
using Kairo.Runtime.Sources;

namespace Kairo.Ctl;

/// <summary>
/// <c>kairoctl bench MODEL</c>: runs the real control loop on a model (synthetic source, a sink that discards) at a
/// fixed rate and reports, for the ticks after warm-up, inference time, wake-up lateness, end-to-end time, the
/// loop thread's managed allocations and the missed ticks. Its figures are set against the C baselines in bench/c
/// (same model, rate and threads) by scripts/bench. Exit code 0 after a run, 1 when the model or ONNX Runtime
/// could not be loaded, 2 on a usage error.
/// </summary>
internal static class BenchCommand
{
    public const int Completed = 0;
    public const int CouldNotRun = 1;

    /// <summary>Runs expected to take longer than this show a progress line on a terminal.</summary>
    private static readonly TimeSpan s_progressThreshold = TimeSpan.FromSeconds(2);

    public static Command Create()
    {
        var model = new Argument<string>("MODEL") { Description = "The ONNX model file to run." };
        var rate = new Option<double>("--rate")
        {
            Description = $"Tick rate in Hz, {LoopOptions.MinRateHz:0} to {LoopOptions.MaxRateHz:0}.",
            DefaultValueFactory = _ => 100,
        };
        var ticks = new Option<long>("--ticks")
        {
            Description = "Measured ticks, after the warm-up.",
            DefaultValueFactory = _ => 1000,
        };
        var warmup = new Option<int>("--warmup")
        {
            Description = "Ticks run first and left out of every figure (allocations are counted from their end).",
            DefaultValueFactory = _ => 100,
        };
        var threads = new Option<int>("--threads")
        {
            Description = "ONNX Runtime intra-op threads (0 lets ONNX Runtime choose); inter-op is 1, execution sequential.",
            DefaultValueFactory = _ => 1,
        };
        var inputs = new Option<string[]>("--input")
        {
            Description = "Shape of an input as name=DxD[:value], e.g. observation=1x48 (dynamic dimensions are 1 otherwise). " +
                "A value makes the source fill every input with that constant instead of the moving wave pattern.",
            AllowMultipleArgumentsPerToken = false,
        };
        var fifo = new Option<int?>("--fifo") { Description = "SCHED_FIFO priority 1..99 for the loop thread (warns and runs on when refused)." };
        var cpu = new Option<int?>("--cpu") { Description = "Pin the loop thread to this CPU (warns and runs on when refused)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON document (integer nanoseconds) instead of the table." };

        rate.Validators.Add(r =>
        {
            double hz = r.GetValueOrDefault<double>();
            if (!(hz >= LoopOptions.MinRateHz && hz <= LoopOptions.MaxRateHz))
            {
                r.AddError(string.Create(CultureInfo.InvariantCulture,
                    $"--rate must be between {LoopOptions.MinRateHz} and {LoopOptions.MaxRateHz} Hz (got {hz}), for example --rate 500"));
            }
        });
        ticks.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<long>() is < 1 or > 100_000_000)
            {
                r.AddError("--ticks must be between 1 and 100000000, for example --ticks 2000");
            }
        });
        warmup.Validators.Add(r =>
        {
            // The loop starts counting allocations when its warm-up ends, so it needs at least one warm-up tick.
            if (r.GetValueOrDefault<int>() is < 1 or > 10_000_000)
            {
                r.AddError("--warmup must be between 1 and 10000000 ticks, for example --warmup 100");
            }
        });
        threads.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 0 or > 1024)
            {
                r.AddError("--threads must be between 0 and 1024, for example --threads 1");
            }
        });
        inputs.Validators.Add(r =>
        {
            foreach (string text in r.GetValueOrDefault<string[]>() ?? [])
            {
                if (!BenchInput.TryParse(text, out _, out string? error))
                {
                    r.AddError(error);
                }
            }
        });
        fifo.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is < 1 or > 99)
            {
                r.AddError("--fifo must be a SCHED_FIFO priority between 1 and 99, for example --fifo 50");
            }
        });
        cpu.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is < 0 or > 1023)
            {
                r.AddError("--cpu must be a CPU number between 0 and 1023, for example --cpu 1");
            }
        });

        var command = new Command("bench", "Run a model in the real control loop at a fixed rate and report latency percentiles, allocations and missed ticks.")
        {
            model, rate, ticks, warmup, threads, inputs, fifo, cpu, json,
        };
        command.SetAction(parse => Run(new BenchSettings(
            parse.GetValue(model)!,
            parse.GetValue(rate),
            parse.GetValue(ticks),
            parse.GetValue(warmup),
            parse.GetValue(threads),
            Array.ConvertAll(parse.GetValue(inputs) ?? [], BenchInput.Parse),
            parse.GetValue(fifo),
            parse.GetValue(cpu),
            parse.GetValue(json))));
        return command;
    }

    private static int Run(BenchSettings settings)
    {
        if (!File.Exists(settings.ModelPath))
        {
            return UsageError(Directory.Exists(settings.ModelPath)
                ? $"{settings.ModelPath} is a directory; give an .onnx model file"
                : $"no such model file: {settings.ModelPath}");
        }

        float? constant = null;
        foreach (var input in settings.Inputs)
        {
            if (input.Value is { } v && constant is { } c && !v.Equals(c))
            {
                return UsageError(string.Create(CultureInfo.InvariantCulture,
                    $"--input {input.Name}: the synthetic source fills every input with one value, and {c} was given already; give the same value (or none, for the wave pattern)"));
            }

            constant ??= input.Value;
        }

        try
        {
            OnnxRuntimeLibrary.Load();
        }
        catch (DllNotFoundException ex)
        {
            Console.Error.WriteLine($"kairoctl bench: {ex.Message}");
            return CouldNotRun;
        }

        var options = new LoopOptions
        {
            Name = "bench",
            RateHz = settings.RateHz,
            WarmupTicks = settings.Warmup,
            InputShapes = settings.Inputs.ToDictionary(i => i.Name, i => i.Shape, StringComparer.Ordinal),
            CpuAffinity = settings.Cpu is { } cpu ? [cpu] : [],
            Priority = settings.Fifo,
        };
        var sessionOptions = new SessionOptions { IntraOpThreads = settings.Threads, InterOpThreads = 1 };
        var source = new ModelSource(Path.GetFileNameWithoutExtension(settings.ModelPath), settings.ModelPath, null, sessionOptions);

        ModelInstance instance;
        try
        {
            instance = ModelInstance.Load(source, options);
        }
        catch (LoopConfigurationException ex)
        {
            return UsageError(ex.Message);
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine($"kairoctl bench: {settings.ModelPath} cannot run in a loop: {ex.Message}");
            return CouldNotRun;
        }
        catch (OnnxRuntimeException ex)
        {
            Console.Error.WriteLine($"kairoctl bench: cannot load {settings.ModelPath}: {ex.Message}");
            return CouldNotRun;
        }

        var synthetic = constant is { } value
            ? new SyntheticSource(SyntheticPattern.Constant, value)
            : new SyntheticSource(SyntheticPattern.Wave);
        var sink = new DiscardSink();
        ControlLoop loop;
        try
        {
            loop = new ControlLoop(options, instance, synthetic, [sink]);
        }
        catch (ArgumentException ex)
        {
            // A tensor a frame cannot carry (strings, or more than a frame holds).
            instance.Dispose();
            Console.Error.WriteLine($"kairoctl bench: {settings.ModelPath} cannot run in a loop: {ex.Message}");
            return CouldNotRun;
        }

        BenchResult result;
        using (loop)
        {
            result = Measure(loop, sink, settings, constant);
        }

        if (settings.Json)
        {
            Console.Out.WriteLine(BenchReport.Of(settings, result).ToJson());
        }
        else
        {
            BenchReport.WriteTable(Console.Out, settings, result);
        }

        return Completed;
    }

    /// <summary>
    /// Starts the loop, lets it warm up, and takes the figures of the ticks in between two consistent captures of
    /// its metrics. This thread only sleeps and copies histograms; it never touches the loop thread's work.
    /// </summary>
    private static BenchResult Measure(ControlLoop loop, DiscardSink sink, BenchSettings settings, float? constant)
    {
        var progress = Progress.Start(settings);
        var start = new MetricsCapture();
        var end = new MetricsCapture();
        long period = (long)Math.Round(1e9 / settings.RateHz);

        loop.Start();
        foreach (string warning in loop.Warnings)
        {
            Console.Error.WriteLine($"kairoctl bench: warning: {warning}");
        }

        WaitForTicks(loop.Metrics, settings.Warmup, period, progress);
        start.Take(loop.Metrics, sink);
        WaitForTicks(loop.Metrics, start.Ticks + settings.Ticks, period, progress);
        end.Take(loop.Metrics, sink);
        loop.Stop();
        progress.Finish();

        // Written into the end capture's snapshots: they are not needed afterwards.
        end.Inference.Subtract(start.Inference, end.Inference);
        end.WakeLateness.Subtract(start.WakeLateness, end.WakeLateness);
        end.EndToEnd.Subtract(start.EndToEnd, end.EndToEnd);
        long measured = end.Ticks - start.Ticks;
        var misses = new long[end.Misses.Length];
        for (int i = 0; i < misses.Length; i++)
        {
            misses[i] = end.Misses[i] - start.Misses[i];
        }

        return new BenchResult(
            loop.Layout,
            measured,
            end.Inference,
            end.WakeLateness,
            end.EndToEnd,
            (double)(end.AllocatedBytes - start.AllocatedBytes) / measured,
            end.AllocatedBytes - start.AllocatedBytes,
            misses,
            end.Frames - start.Frames,
            constant,
            loop.Warnings.ToArray());
    }

    /// <summary>
    /// Sleeps until the loop has counted <paramref name="target"/> ticks: long sleeps while many remain, then a few
    /// short ones, so the capture lands while the loop sleeps towards its next release.
    /// </summary>
    private static void WaitForTicks(LoopMetrics metrics, long target, long period, Progress progress)
    {
        const long LongestSleep = 200_000_000;
        while (true)
        {
            long done = metrics.Ticks;
            progress.Report(done);
            long remaining = target - done;
            if (remaining <= 0)
            {
                return;
            }

            long sleep = remaining > 1 ? Math.Min((remaining - 1) * period, LongestSleep) : Math.Max(period / 8, 50_000);
            MonotonicClock.SleepUntil(MonotonicClock.NowNanoseconds() + sleep);
        }
    }

    private static int UsageError(string message)
    {
        Console.Error.WriteLine($"kairoctl bench: {message}");
        return CtlCommand.UsageError;
    }

    /// <summary>A loop's metrics at one instant, all counting the same ticks. Allocated once, before the loop starts.</summary>
    private sealed class MetricsCapture
    {
        public HistogramSnapshot Inference { get; } = new();

        public HistogramSnapshot WakeLateness { get; } = new();

        public HistogramSnapshot EndToEnd { get; } = new();

        public long[] Misses { get; } = new long[Enum.GetValues<MissCause>().Length];

        public long Ticks { get; private set; }

        public long AllocatedBytes { get; private set; }

        public long Frames { get; private set; }

        /// <summary>
        /// Copies the metrics, again if a tick was recorded meanwhile: a tick records its inference, then its
        /// lateness and end-to-end time, then counts itself; a capture taken across that would count it in some
        /// figures and not in others.
        /// </summary>
        public void Take(LoopMetrics metrics, DiscardSink sink)
        {
            for (int attempt = 0; ; attempt++)
            {
                long ticks = metrics.Ticks;
                metrics.EndToEnd.CopyTo(EndToEnd);
                metrics.WakeLateness.CopyTo(WakeLateness);
                metrics.Inference.CopyTo(Inference);
                long counted = metrics.Ticks;
                for (int i = 0; i < Misses.Length; i++)
                {
                    Misses[i] = metrics.Misses((MissCause)i);
                }

                AllocatedBytes = metrics.AllocatedBytes;
                Frames = sink.Frames;
                ulong lastSequence = sink.LastSequence; // read after Frames: the sink writes it first
                Ticks = ticks;

                // A frame of a tick not counted yet means the loop was between emitting and counting that tick.
                bool consistent = counted == ticks && metrics.Ticks == ticks && lastSequence <= (ulong)ticks
                    && EndToEnd.Count == ticks && WakeLateness.Count == ticks && Inference.Count == ticks;
                if (consistent || attempt == 1000)
                {
                    return;
                }

                MonotonicClock.SleepUntil(MonotonicClock.NowNanoseconds() + 100_000);
            }
        }
    }

    /// <summary>Counts the frames the loop hands over and drops them: the bench measures the loop, not a transport.</summary>
    private sealed class DiscardSink : IFrameSink
    {
        private long _frames;
        private ulong _lastSequence;

        public string Description => "discard";

        /// <summary>Stays zero: counting into SinkCounters is internal to the runtime, so this sink keeps <see cref="Frames"/>.</summary>
        public SinkCounters Counters { get; } = new();

        public long Frames => Volatile.Read(ref _frames);

        /// <summary>The tick number of the last frame; a loop's tick numbers count its ticks from 1.</summary>
        public ulong LastSequence => Volatile.Read(ref _lastSequence);

        public void Open(FrameLayout layout)
        {
        }

        public void Write(in TickFrame tick, ReadOnlySpan<byte> outputs)
        {
            Volatile.Write(ref _lastSequence, tick.Sequence);
            Volatile.Write(ref _frames, _frames + 1);
        }

        public void Dispose()
        {
        }
    }

    /// <summary>One updating line on stderr (<c>kairoctl bench: 1200/2100 ticks, 57%</c>), only on a terminal and for long runs.</summary>
    private sealed class Progress
    {
        private readonly long _total;
        private long _lastReport;
        private bool _shown;

        private Progress(long total) => _total = total;

        private static Progress Off { get; } = new(0);

        public static Progress Start(BenchSettings settings)
        {
            long total = settings.Warmup + settings.Ticks;
            bool isLong = TimeSpan.FromSeconds(total / settings.RateHz) > s_progressThreshold;
            return isLong && !Console.IsErrorRedirected ? new Progress(total) : Off;
        }

        public void Report(long done)
        {
            if (_total == 0)
            {
                return;
            }

            long now = MonotonicClock.NowNanoseconds();
            if (_shown && now - _lastReport < 500_000_000)
            {
                return;
            }

            _lastReport = now;
            _shown = true;
            long shown = Math.Min(done, _total);
            Console.Error.Write(string.Create(CultureInfo.InvariantCulture,
                $"\rkairoctl bench: {shown}/{_total} ticks, {100 * shown / _total}%\u001b[K"));
        }

        public void Finish()
        {
            if (_shown)
            {
                Console.Error.Write("\r\u001b[K");
            }
        }
    }
}

/// <summary>What <c>kairoctl bench</c> was asked to run.</summary>
internal sealed record BenchSettings(
    string ModelPath,
    double RateHz,
    long Ticks,
    int Warmup,
    int Threads,
    BenchInput[] Inputs,
    int? Fifo,
    int? Cpu,
    bool Json);

/// <summary>One <c>--input name=DxD[:value]</c>: the shape of an input, and optionally the constant it is filled with.</summary>
internal sealed record BenchInput(string Name, long[] Shape, float? Value)
{
    public static BenchInput Parse(string text) =>
        TryParse(text, out var input, out string? error) ? input : throw new FormatException(error);

    /// <summary>Parses <c>name=DxDxD[:value]</c>; an empty shape (<c>name=</c> or <c>name=:0.5</c>) is a scalar.</summary>
    public static bool TryParse(string text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out BenchInput? input, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        input = null;
        error = null;
        int equals = text.LastIndexOf('=');
        if (equals <= 0)
        {
            error = $"--input {text}: expected name=DxD[:value], for example --input observation=1x48 or --input observation=1x48:0.5";
            return false;
        }

        string name = text[..equals];
        string rest = text[(equals + 1)..];
        float? value = null;
        int colon = rest.IndexOf(':');
        if (colon >= 0)
        {
            if (!float.TryParse(rest[(colon + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out float v) || !float.IsFinite(v))
            {
                error = $"--input {text}: '{rest[(colon + 1)..]}' is not a finite number; write the value like 0.5";
                return false;
            }

            value = v;
            rest = rest[..colon];
        }

        string[] parts = rest.Length == 0 ? [] : rest.Split('x');
        var shape = new long[parts.Length];
        for (int d = 0; d < parts.Length; d++)
        {
            if (!long.TryParse(parts[d], NumberStyles.None, CultureInfo.InvariantCulture, out shape[d]) || shape[d] < 1)
            {
                error = $"--input {text}: bad shape '{rest}': dimensions are positive integers joined by 'x', for example 1x3x66x200";
                return false;
            }
        }

        input = new BenchInput(name, shape, value);
        return true;
    }
}
