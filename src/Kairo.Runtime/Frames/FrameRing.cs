using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using Kairo.Runtime.Loops;

namespace Kairo.Runtime.Frames;

/// <summary>
/// The shared-memory frame ring (docs/wire-formats.md): a file, by default under /dev/shm, that a camera process
/// writes frames into and a loop reads the newest complete one from, without a socket or a copy through the kernel.
/// A 64-byte header, then <c>SlotCount</c> slots of <c>SlotStride</c> bytes, each a 64-byte slot header and the
/// payload. Every field is little-endian.
/// </summary>
/// <remarks>
/// Header: 0 magic "KRRG" (u32), 4 version (u32, 1), 8 slot count (u32), 12 slot capacity (u32, payload bytes a
/// slot holds), 16 layout id (u32, 0 = not declared), 20 slot stride (u32, a multiple of 64), 24 the sequence of the
/// newest complete frame (u64, 0 = none yet), 32..63 reserved (zero).
/// Slot header: 0 lock (u64 seqlock: odd while the writer is inside the slot), 8 sequence (u64), 16 timestamp
/// (i64, CLOCK_MONOTONIC nanoseconds), 24 payload length (u32), 28..63 reserved. Frame <c>s</c> lives in slot
/// <c>s % SlotCount</c>.
/// </remarks>
public static class FrameRing
{
    public const uint Magic = 0x4752524B; // "KRRG" read little-endian
    public const uint Version = 1;
    public const int HeaderSize = 64;
    public const int SlotHeaderSize = 64;
    public const int DefaultSlotCount = 4;
    public const int MinSlotCount = 2;
    public const int MaxSlotCount = 1024;

    /// <summary>Where a ring given by a bare name lives: tmpfs, so the "file" is plain shared memory.</summary>
    public const string DefaultDirectory = "/dev/shm";

    internal const int MagicOffset = 0;
    internal const int VersionOffset = 4;
    internal const int SlotCountOffset = 8;
    internal const int SlotCapacityOffset = 12;
    internal const int LayoutIdOffset = 16;
    internal const int SlotStrideOffset = 20;
    internal const int PublishedOffset = 24;

    internal const int LockOffset = 0;
    internal const int SequenceOffset = 8;
    internal const int TimestampOffset = 16;
    internal const int LengthOffset = 24;

    /// <summary>A bare name (no '/') means a file under <see cref="DefaultDirectory"/>; any path is used as given.</summary>
    public static string ResolvePath(string pathOrName) =>
        pathOrName.Contains('/') ? pathOrName : Path.Combine(DefaultDirectory, pathOrName);

    /// <summary>Bytes from one slot's start to the next: its header and payload, rounded up to 64 (a cache line).</summary>
    public static int SlotStride(int slotCapacity) => checked((SlotHeaderSize + slotCapacity + 63) / 64 * 64);

    /// <summary>The size of a ring file.</summary>
    public static long FileLength(int slotCount, int slotCapacity) => HeaderSize + ((long)slotCount * SlotStride(slotCapacity));

    /// <summary>The 64-byte header of a new, empty ring.</summary>
    public static void WriteHeader(Span<byte> destination, int slotCount, int slotCapacity, uint layoutId)
    {
        destination[..HeaderSize].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(destination[MagicOffset..], Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[VersionOffset..], Version);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[SlotCountOffset..], (uint)slotCount);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[SlotCapacityOffset..], (uint)slotCapacity);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[LayoutIdOffset..], layoutId);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[SlotStrideOffset..], (uint)SlotStride(slotCapacity));
    }
}

/// <summary>
/// Writes frames into a frame ring, for a camera process (or kairoctl send). One writer per ring. Opens the ring if
/// it exists (the reader may have created it) and creates it otherwise. Writing allocates nothing and never blocks:
/// the reader never holds the writer back, it detects a frame overwritten under it and drops it.
/// </summary>
public sealed unsafe class FrameRingWriter : IDisposable
{
    private readonly FrameRingMap _map;
    private ulong _next;
    private byte* _open;
    private ulong _openLock;

    private FrameRingWriter(FrameRingMap map)
    {
        _map = map;
        _next = Volatile.Read(ref *map.Published) + 1; // a restarted writer carries on after the last frame it published
    }

    /// <summary>
    /// Opens or creates the ring at <paramref name="path"/> for frames of <paramref name="frameBytes"/> bytes.
    /// An existing ring must be a version-1 ring whose slots hold the frame and whose layout id is
    /// <paramref name="layoutId"/> (or 0 on either side); its slot count is kept.
    /// </summary>
    /// <exception cref="InvalidDataException">The file exists but is not a ring these frames fit; the message says why.</exception>
    public static FrameRingWriter Open(string path, int frameBytes, uint layoutId = 0, int slotCount = FrameRing.DefaultSlotCount) =>
        new(FrameRingMap.OpenOrCreate(path, writable: true, frameBytes, layoutId, slotCount));

    public string Path => _map.Path;

    public int SlotCount => _map.SlotCount;

    /// <summary>Payload bytes one slot holds.</summary>
    public int SlotCapacity => _map.SlotCapacity;

    /// <summary>The layout id in the ring's header (0 when not declared).</summary>
    public uint LayoutId => _map.LayoutId;

    /// <summary>The sequence of the newest frame published (0 before the first).</summary>
    public ulong LastSequence => _next - 1;

    /// <summary>
    /// Copies one frame into the next slot and publishes it; returns its sequence. The timestamp defaults to
    /// CLOCK_MONOTONIC now, which every process on the board shares.
    /// </summary>
    public ulong Write(ReadOnlySpan<byte> payload, long? timestampNanoseconds = null)
    {
        if (payload.Length > _map.SlotCapacity)
        {
            throw new ArgumentException($"a frame of {payload.Length} bytes does not fit ring {Path}, whose slots hold {_map.SlotCapacity}", nameof(payload));
        }

        payload.CopyTo(BeginFrame());
        return CommitFrame(payload.Length, timestampNanoseconds ?? MonotonicClock.NowNanoseconds());
    }

    /// <summary>
    /// Enters the next slot and returns its payload area (<see cref="SlotCapacity"/> bytes), for a producer that
    /// fills the frame in place (a camera decoding straight into shared memory). Finish with <see cref="CommitFrame"/>.
    /// </summary>
    public Span<byte> BeginFrame()
    {
        if (_open != null)
        {
            throw new InvalidOperationException($"ring {Path}: a frame is already begun; commit it first");
        }

        byte* slot = _map.Slot(_next);
        ref ulong lockWord = ref *(ulong*)(slot + FrameRing.LockOffset);

        // Odd while inside. A writer that died mid-frame left the word odd; step past it to a fresh odd value so a
        // reader holding the old one still sees a change.
        ulong current = Volatile.Read(ref lockWord);
        _openLock = (current & 1) == 0 ? current + 1 : current + 2;

        // A full fence: no payload store below may become visible before the slot reads as busy.
        Interlocked.Exchange(ref lockWord, _openLock);
        _open = slot;
        return new Span<byte>(slot + FrameRing.SlotHeaderSize, _map.SlotCapacity);
    }

    /// <summary>Closes the slot <see cref="BeginFrame"/> opened and publishes its frame; returns its sequence.</summary>
    public ulong CommitFrame(int length, long timestampNanoseconds)
    {
        byte* slot = _open;
        if (slot == null)
        {
            throw new InvalidOperationException($"ring {Path}: no frame begun; call BeginFrame first");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, _map.SlotCapacity);
        ulong sequence = _next;
        *(ulong*)(slot + FrameRing.SequenceOffset) = sequence;
        *(long*)(slot + FrameRing.TimestampOffset) = timestampNanoseconds;
        *(uint*)(slot + FrameRing.LengthOffset) = (uint)length;

        // Even again, with a full fence: the payload and fields above are visible before the slot reads as stable.
        Interlocked.Exchange(ref *(ulong*)(slot + FrameRing.LockOffset), _openLock + 1);
        Volatile.Write(ref *_map.Published, sequence); // release: a reader that sees this sequence sees the frame
        _open = null;
        _next = sequence + 1;
        return sequence;
    }

    public void Dispose() => _map.Dispose();
}

/// <summary>A ring file mapped into this process, its header checked.</summary>
internal sealed unsafe class FrameRingMap : IDisposable
{
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private byte* _base;

    private FrameRingMap(string path, MemoryMappedFile file, MemoryMappedViewAccessor view, byte* pointer)
    {
        Path = path;
        _file = file;
        _view = view;
        _base = pointer;
        SlotCount = (int)BinaryPrimitives.ReadUInt32LittleEndian(Header[FrameRing.SlotCountOffset..]);
        SlotCapacity = (int)BinaryPrimitives.ReadUInt32LittleEndian(Header[FrameRing.SlotCapacityOffset..]);
        LayoutId = BinaryPrimitives.ReadUInt32LittleEndian(Header[FrameRing.LayoutIdOffset..]);
        SlotStride = (int)BinaryPrimitives.ReadUInt32LittleEndian(Header[FrameRing.SlotStrideOffset..]);
    }

    public string Path { get; }

    public int SlotCount { get; }

    public int SlotCapacity { get; }

    public uint LayoutId { get; }

    public int SlotStride { get; }

    /// <summary>The header's published sequence: the newest complete frame.</summary>
    public ulong* Published => (ulong*)(_base + FrameRing.PublishedOffset);

    private ReadOnlySpan<byte> Header => new(_base, FrameRing.HeaderSize);

    /// <summary>The slot frame <paramref name="sequence"/> lives in.</summary>
    public byte* Slot(ulong sequence) => _base + FrameRing.HeaderSize + ((long)(sequence % (ulong)SlotCount) * SlotStride);

    /// <summary>
    /// Maps the ring at <paramref name="path"/>, creating it first when absent: the new file is written complete
    /// under a temporary name and renamed into place, so the other side never maps a half-written header.
    /// </summary>
    public static FrameRingMap OpenOrCreate(string path, bool writable, int frameBytes, uint layoutId, int slotCount)
    {
        if (slotCount is < FrameRing.MinSlotCount or > FrameRing.MaxSlotCount)
        {
            throw new ArgumentOutOfRangeException(nameof(slotCount), slotCount, $"frame ring {path}: the slot count must be {FrameRing.MinSlotCount}..{FrameRing.MaxSlotCount}");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(frameBytes);
        if (!File.Exists(path))
        {
            Create(path, frameBytes, layoutId, slotCount);
        }

        return Open(path, writable, frameBytes, layoutId);
    }

    /// <summary>Maps an existing ring and checks that frames of <paramref name="frameBytes"/> with <paramref name="layoutId"/> fit it.</summary>
    public static FrameRingMap Open(string path, bool writable, int frameBytes, uint layoutId)
    {
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, writable ? FileAccess.ReadWrite : FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (FileNotFoundException)
        {
            throw new FileNotFoundException($"frame ring {path} does not exist: start the writer first, or let the reader create it", path);
        }

        MemoryMappedFile? file = null;
        MemoryMappedViewAccessor? view = null;
        try
        {
            long length = stream.Length;
            if (length < FrameRing.HeaderSize)
            {
                throw new InvalidDataException($"frame ring {path}: the file is {length} bytes, shorter than the {FrameRing.HeaderSize}-byte ring header; not a Kairo frame ring");
            }

            var access = writable ? MemoryMappedFileAccess.ReadWrite : MemoryMappedFileAccess.Read;
            file = MemoryMappedFile.CreateFromFile(stream, null, 0, access, HandleInheritability.None, leaveOpen: false);
            view = file.CreateViewAccessor(0, 0, access);
            byte* pointer = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            pointer += view.PointerOffset;
            var map = new FrameRingMap(path, file, view, pointer);
            try
            {
                map.Check(length, frameBytes, layoutId);
            }
            catch
            {
                map.Dispose();
                throw;
            }

            return map;
        }
        catch
        {
            view?.Dispose();
            if (file != null)
            {
                file.Dispose(); // and the stream it owns
            }
            else
            {
                stream.Dispose();
            }

            throw;
        }
    }

    private static void Create(string path, int frameBytes, uint layoutId, int slotCount)
    {
        string temporary = $"{path}.{Environment.ProcessId}.{Environment.CurrentManagedThreadId}.tmp";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None))
            {
                stream.SetLength(FrameRing.FileLength(slotCount, frameBytes));
                Span<byte> header = stackalloc byte[FrameRing.HeaderSize];
                FrameRing.WriteHeader(header, slotCount, frameBytes, layoutId);
                stream.Write(header);
            }

            try
            {
                File.Move(temporary, path, overwrite: false);
            }
            catch (IOException) when (File.Exists(path))
            {
                // The other side created it between our check and now: theirs stands, and is checked like any other.
            }
        }
        catch (DirectoryNotFoundException)
        {
            throw new DirectoryNotFoundException($"frame ring {path}: the directory {System.IO.Path.GetDirectoryName(path)} does not exist");
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    private void Check(long fileLength, int frameBytes, uint layoutId)
    {
        var header = Header;
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(header[FrameRing.MagicOffset..]);
        if (magic != FrameRing.Magic)
        {
            throw new InvalidDataException($"frame ring {Path}: the magic is 0x{magic:X8}, a Kairo ring starts with \"KRRG\" (0x{FrameRing.Magic:X8}); the file is something else: give another path, or delete it while nothing uses it");
        }

        uint version = BinaryPrimitives.ReadUInt32LittleEndian(header[FrameRing.VersionOffset..]);
        if (version != FrameRing.Version)
        {
            throw new InvalidDataException($"frame ring {Path}: version {version}, this Kairo reads version {FrameRing.Version}; update the writer or this side so both agree");
        }

        if (SlotCount is < 1 or > FrameRing.MaxSlotCount)
        {
            throw new InvalidDataException($"frame ring {Path}: the header gives {SlotCount} slots; a ring has 1..{FrameRing.MaxSlotCount}");
        }

        if (SlotCapacity < 0 || SlotStride < FrameRing.SlotHeaderSize + (long)SlotCapacity || SlotStride % 64 != 0)
        {
            throw new InvalidDataException($"frame ring {Path}: the slot stride {SlotStride} is not a multiple of 64 holding the 64-byte slot header and the slot capacity {SlotCapacity}");
        }

        long needed = FrameRing.HeaderSize + ((long)SlotCount * SlotStride);
        if (fileLength < needed)
        {
            throw new InvalidDataException($"frame ring {Path}: the file is {fileLength} bytes, its header needs {needed} ({SlotCount} slots of {SlotStride} bytes after the 64-byte header); the file was cut short");
        }

        if (layoutId != 0 && LayoutId != 0 && LayoutId != layoutId)
        {
            throw new InvalidDataException($"frame ring {Path}: the ring carries frames of layout 0x{LayoutId:X8}, this side expects layout 0x{layoutId:X8}; the two sides were set up for different models or input shapes (compare with kairoctl frames --model)");
        }

        if (SlotCapacity < frameBytes)
        {
            throw new InvalidDataException($"frame ring {Path}: its slots hold {SlotCapacity} bytes, a frame here is {frameBytes} bytes; recreate the ring for this model (delete the file while nothing uses it)");
        }
    }

    public void Dispose()
    {
        if (_base != null)
        {
            _base = null;
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
            _file.Dispose();
        }
    }
}
