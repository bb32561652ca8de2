using Kairo.Runtime.Frames;

namespace Kairo.Runtime.Sources;

/// <summary>
/// Where a loop's input frames come from. <see cref="Open"/> runs once, off the loop thread, and may allocate
/// and throw; <see cref="TryRead"/> runs on the loop thread every tick and must neither block, allocate nor throw.
/// </summary>
public interface IFrameSource : IDisposable
{
    /// <summary>A short description for logs and status, e.g. <c>udp 127.0.0.1:9000</c>.</summary>
    string Description { get; }

    SourceCounters Counters { get; }

    void Open(FrameLayout layout);

    /// <summary>
    /// Copies the newest complete frame that arrived since the last call into <paramref name="frame"/> and returns
    /// true; returns false (leaving <paramref name="frame"/> as it was) when nothing new arrived.
    /// </summary>
    bool TryRead(Span<byte> frame, out ulong sequence);
}

/// <summary>Frames a source took and dropped, by cause. Written by the loop thread only; read by anyone.</summary>
public sealed class SourceCounters
{
    private readonly long[] _dropped = new long[Enum.GetValues<FrameError>().Length];
    private long _frames;

    public long Frames => Volatile.Read(ref _frames);

    public long Dropped
    {
        get
        {
            long total = 0;
            for (int i = 1; i < _dropped.Length; i++)
            {
                total += Volatile.Read(ref _dropped[i]);
            }

            return total;
        }
    }

    public long DroppedFor(FrameError cause) => Volatile.Read(ref _dropped[(int)cause]);

    public void CountFrame() => Volatile.Write(ref _frames, _frames + 1);

    public void CountDrop(FrameError cause) => Volatile.Write(ref _dropped[(int)cause], _dropped[(int)cause] + 1);
}
