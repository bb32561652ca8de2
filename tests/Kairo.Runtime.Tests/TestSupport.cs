using System.Runtime.InteropServices;
using Kairo.Onnx;
using Kairo.Runtime.Frames;
using Kairo.Runtime.Loops;
using Kairo.Runtime.Sinks;

namespace Kairo.Runtime.Tests;

internal static class Repo
{
    public static string Root { get; } = FindRoot();

    public static string Model(string file) => Path.Combine(Root, "models", file);

    public static void LoadOnnxRuntime() => OnnxRuntimeLibrary.Load();

    public static ModelSource Source(string file, long version = 0) =>
        new(Path.GetFileNameWithoutExtension(file), Model(file), null, new SessionOptions { IntraOpThreads = 1, InterOpThreads = 1 }, version);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Kairo.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("no Kairo.sln above the test binaries");
    }
}

/// <summary>
/// A sink that records, into memory allocated up front, the first float of the first output, the flags and the
/// model version of each tick, and signals when a given number of ticks has been written.
/// </summary>
internal sealed class RecordingSink : IFrameSink
{
    private readonly float[] _values;
    private readonly FrameFlags[] _flags;
    private readonly long[] _versions;
    private readonly ulong[] _ticks;
    private readonly long _signalAt;
    private int _count;

    public RecordingSink(int capacity, long signalAt)
    {
        _values = new float[capacity];
        _flags = new FrameFlags[capacity];
        _versions = new long[capacity];
        _ticks = new ulong[capacity];
        _signalAt = signalAt;
    }

    public ManualResetEventSlim Reached { get; } = new();

    public string Description => "recording";

    public SinkCounters Counters { get; } = new();

    /// <summary>Frames written (may exceed what was kept).</summary>
    public int Count => Volatile.Read(ref _count);

    public float Value(int i) => _values[i];

    public FrameFlags Flags(int i) => _flags[i];

    public long Version(int i) => _versions[i];

    public ulong Tick(int i) => _ticks[i];

    public void Open(FrameLayout layout)
    {
    }

    public void Write(in TickFrame tick, ReadOnlySpan<byte> outputs)
    {
        int i = _count;
        if (i < _values.Length)
        {
            _values[i] = MemoryMarshal.Read<float>(outputs);
            _flags[i] = tick.Flags;
            _versions[i] = tick.ModelVersion;
            _ticks[i] = tick.Sequence;
        }

        Volatile.Write(ref _count, i + 1);

        if (i + 1 == _signalAt)
        {
            Reached.Set();
        }
    }

    public void Dispose() => Reached.Dispose();
}
