using System.Buffers.Binary;

namespace Kairo.Runtime.Frames;

/// <summary>What a frame on the wire carries.</summary>
public enum FrameKind : byte
{
    Input = 1,
    Output = 2,
}

/// <summary>Flags of an output frame: what the loop emitted on this tick.</summary>
[Flags]
public enum FrameFlags : ushort
{
    None = 0,

    /// <summary>The loop's configured safe output, not an inference result.</summary>
    Safe = 1,

    /// <summary>The previous output repeated (the tick missed its deadline under the hold policy).</summary>
    Held = 2,
}

/// <summary>
/// The 32-byte header of every Kairo frame datagram and replay record (docs/wire-formats.md):
/// magic "KRF1", version, kind, flags, sequence, timestamp, layout id, payload length. Little-endian.
/// </summary>
public readonly record struct FrameHeader(FrameKind Kind, FrameFlags Flags, ulong Sequence, long TimestampNanoseconds, uint LayoutId, int PayloadLength)
{
    public const int Size = 32;
    public const uint Magic = 0x3146524B; // "KRF1" read little-endian
    public const byte Version = 1;

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Magic);
        destination[4] = Version;
        destination[5] = (byte)Kind;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], (ushort)Flags);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], Sequence);
        BinaryPrimitives.WriteInt64LittleEndian(destination[16..], TimestampNanoseconds);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[24..], LayoutId);
        BinaryPrimitives.WriteInt32LittleEndian(destination[28..], PayloadLength);
    }

    /// <summary>Reads and checks a header; never throws (the loop thread calls it on untrusted datagrams).</summary>
    public static FrameError TryRead(ReadOnlySpan<byte> source, out FrameHeader header)
    {
        header = default;
        if (source.Length < Size)
        {
            return FrameError.Truncated;
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(source) != Magic)
        {
            return FrameError.BadMagic;
        }

        if (source[4] != Version)
        {
            return FrameError.BadVersion;
        }

        int payload = BinaryPrimitives.ReadInt32LittleEndian(source[28..]);
        if (payload < 0 || payload > source.Length - Size)
        {
            return FrameError.Truncated;
        }

        header = new FrameHeader(
            (FrameKind)source[5],
            (FrameFlags)BinaryPrimitives.ReadUInt16LittleEndian(source[6..]),
            BinaryPrimitives.ReadUInt64LittleEndian(source[8..]),
            BinaryPrimitives.ReadInt64LittleEndian(source[16..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[24..]),
            payload);
        return FrameError.None;
    }

    /// <summary>Checks a header against the frame a loop expects.</summary>
    public FrameError Check(FrameKind kind, FrameLayout layout)
    {
        if (Kind != kind)
        {
            return FrameError.WrongKind;
        }

        if (LayoutId != 0 && LayoutId != layout.LayoutId)
        {
            return FrameError.WrongLayout;
        }

        return PayloadLength == layout.TotalBytes ? FrameError.None : FrameError.WrongSize;
    }
}

/// <summary>Why a frame was dropped. Counted per cause; never an exception on the loop thread.</summary>
public enum FrameError
{
    None = 0,
    Truncated,
    BadMagic,
    BadVersion,
    WrongKind,
    WrongLayout,
    WrongSize,

    /// <summary>A shared-memory frame was overwritten while it was being copied (the frame ring's seqlock changed).</summary>
    Torn,
}
