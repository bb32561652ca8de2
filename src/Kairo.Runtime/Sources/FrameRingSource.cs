using Kairo.Runtime.Frames;

namespace Kairo.Runtime.Sources;

/// <summary>
/// Input frames from a shared-memory frame ring (docs/wire-formats.md) that a camera process writes. Each tick takes
/// the newest published frame if it is new; a frame the writer overwrote while it was being copied is counted as
/// <see cref="FrameError.Torn"/> and the tick runs on the previous input.
/// </summary>
public sealed unsafe class FrameRingSource : IFrameSource
{
    private readonly bool _create;
    private readonly int _slots;
    private FrameRingMap? _map;
    private NativeBuffer? _staging;
    private ulong _lastSequence;
    private ulong _lastWrongSize;

    /// <param name="path">The ring file; a bare name means a file under /dev/shm.</param>
    /// <param name="create">Create the ring when the writer has not yet, so either side can start first.</param>
    /// <param name="slots">Slots of a ring this side creates.</param>
    public FrameRingSource(string path, bool create = true, int slots = FrameRing.DefaultSlotCount)
    {
        if (slots is < FrameRing.MinSlotCount or > FrameRing.MaxSlotCount)
        {
            throw new ArgumentOutOfRangeException(nameof(slots), slots, $"ring {path}: a ring has {FrameRing.MinSlotCount}..{FrameRing.MaxSlotCount} slots");
        }

        Path = FrameRing.ResolvePath(path);
        _create = create;
        _slots = slots;
    }

    public string Path { get; }

    public string Description => $"ring {Path}";

    public SourceCounters Counters { get; } = new();

    /// <summary>Slots of the mapped ring (after <see cref="Open"/>): the writer's choice when it created the ring.</summary>
    public int SlotCount => _map?.SlotCount ?? 0;

    public void Open(FrameLayout layout)
    {
        // Read-only: nothing on this side can disturb the writer's frames.
        _map = _create
            ? FrameRingMap.OpenOrCreate(Path, writable: false, layout.TotalBytes, layout.LayoutId, _slots)
            : FrameRingMap.Open(Path, writable: false, layout.TotalBytes, layout.LayoutId);
        _staging = new NativeBuffer(layout.TotalBytes);
    }

    public bool TryRead(Span<byte> frame, out ulong sequence)
    {
        sequence = 0;
        var map = _map!;
        ulong published = Volatile.Read(ref *map.Published);
        if (published == _lastSequence || published == 0)
        {
            return false;
        }

        byte* slot = map.Slot(published);
        ref ulong lockWord = ref *(ulong*)(slot + FrameRing.LockOffset);
        ulong before = Volatile.Read(ref lockWord);
        if ((before & 1) != 0)
        {
            // The writer is inside the slot of the newest frame: it has lapped the ring since publishing it.
            Counters.CountDrop(FrameError.Torn);
            return false;
        }

        ulong slotSequence = *(ulong*)(slot + FrameRing.SequenceOffset);
        uint length = *(uint*)(slot + FrameRing.LengthOffset);
        if (length != (uint)frame.Length)
        {
            if (slotSequence == published && Volatile.Read(ref lockWord) == before)
            {
                // A complete frame of the wrong size: a writer bug, counted once, not on every tick it stays newest.
                if (_lastWrongSize != published)
                {
                    _lastWrongSize = published;
                    Counters.CountDrop(FrameError.WrongSize);
                }

                return false;
            }

            Counters.CountDrop(FrameError.Torn);
            return false;
        }

        // Copy aside first: a torn copy must not reach the loop's input, which keeps the last good frame.
        var staging = _staging!.Span;
        new ReadOnlySpan<byte>(slot + FrameRing.SlotHeaderSize, frame.Length).CopyTo(staging);

        // The copy's loads complete before the lock is read again (a seqlock reader's read fence).
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref lockWord) != before || slotSequence != published)
        {
            Counters.CountDrop(FrameError.Torn);
            return false;
        }

        staging.CopyTo(frame);
        _lastSequence = published;
        sequence = published;
        Counters.CountFrame();
        return true;
    }

    public void Dispose()
    {
        _map?.Dispose();
        _staging?.Dispose();
    }
}
