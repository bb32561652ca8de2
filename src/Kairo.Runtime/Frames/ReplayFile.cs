using System.Buffers.Binary;

namespace Kairo.Runtime.Frames;

/// <summary>
/// A recorded sensor file (docs/wire-formats.md): a 16-byte header, then the input frames as they arrived, each a
/// 32-byte <see cref="FrameHeader"/> of kind Input followed by its payload. Little-endian.
/// Header: 0 magic "KRRC" (u32), 4 version (u16, 1), 6 reserved (u16), 8 layout id (u32, 0 = not declared),
/// 12 reserved (u32).
/// </summary>
/// <remarks>
/// Loaded whole into memory and checked record by record, so a loop replays it without touching the disk. Every
/// record of a file has the same payload length: a recording holds one kind of frame.
/// </remarks>
public sealed class ReplayFile
{
    public const uint Magic = 0x4352524B; // "KRRC" read little-endian
    public const ushort Version = 1;
    public const int HeaderSize = 16;

    /// <summary>The largest file a replay loads: it lives in memory for as long as the loop runs.</summary>
    public const long MaxFileBytes = 1L << 30;

    private readonly byte[] _bytes;

    private ReplayFile(string path, byte[] bytes, uint layoutId, int count, int payloadLength)
    {
        Path = path;
        _bytes = bytes;
        LayoutId = layoutId;
        Count = count;
        PayloadLength = payloadLength;
    }

    public string Path { get; }

    /// <summary>The layout id in the file header (0 when the recorder did not declare one).</summary>
    public uint LayoutId { get; }

    /// <summary>Records in the file.</summary>
    public int Count { get; }

    /// <summary>Payload bytes of every record.</summary>
    public int PayloadLength { get; }

    private int RecordLength => FrameHeader.Size + PayloadLength;

    /// <summary>The record's header. Never throws for an index below <see cref="Count"/>: every record was checked at load.</summary>
    public FrameHeader Header(int index)
    {
        FrameHeader.TryRead(Record(index), out var header);
        return header;
    }

    /// <summary>The sequence a record carries, read without building its header.</summary>
    public ulong Sequence(int index) => BinaryPrimitives.ReadUInt64LittleEndian(_bytes.AsSpan(Offset(index) + 8));

    public ReadOnlySpan<byte> Payload(int index) => _bytes.AsSpan(Offset(index) + FrameHeader.Size, PayloadLength);

    /// <summary>A whole record: the input datagram as it arrived.</summary>
    public ReadOnlySpan<byte> Record(int index) => _bytes.AsSpan(Offset(index), RecordLength);

    private int Offset(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        return HeaderSize + (index * RecordLength);
    }

    /// <summary>
    /// Loads and checks a recording. With <paramref name="layout"/>, every record must be a frame of that layout (and
    /// the file's layout id, when declared, its id); without, every record must be as long as the first.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is not a valid recording; the message names the record, its byte offset and what is wrong.</exception>
    public static ReplayFile Load(string path, FrameLayout? layout = null)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new FileNotFoundException($"replay file {path} does not exist", path);
        }

        if (info.Length > MaxFileBytes)
        {
            throw new InvalidDataException($"replay file {path} is {info.Length} bytes; a replay is loaded into memory and may be at most {MaxFileBytes} bytes (1 GiB): record fewer frames or split the recording");
        }

        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < HeaderSize)
        {
            throw Invalid(path, $"the file is {bytes.Length} bytes, shorter than the {HeaderSize}-byte replay header");
        }

        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(bytes);
        if (magic != Magic)
        {
            throw Invalid(path, $"the magic is 0x{magic:X8}, a replay file starts with \"KRRC\" (0x{Magic:X8}); not a Kairo recording");
        }

        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(4));
        if (version != Version)
        {
            throw Invalid(path, $"version {version}, this Kairo reads version {Version}");
        }

        uint layoutId = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
        if (layout != null && layoutId != 0 && layoutId != layout.LayoutId)
        {
            throw Invalid(path, $"recorded for layout 0x{layoutId:X8}, the loop's input frame is layout 0x{layout.LayoutId:X8} ({layout}); it was recorded for another model or input shape");
        }

        int? payloadLength = layout?.TotalBytes;
        int offset = HeaderSize;
        int count = 0;
        while (offset < bytes.Length)
        {
            var rest = bytes.AsSpan(offset);
            string? problem = CheckRecord(rest, layoutId, layout, ref payloadLength, out int recordLength);
            if (problem != null)
            {
                throw Invalid(path, $"record {count} at byte {offset}: {problem}");
            }

            offset += recordLength;
            count++;
        }

        if (count == 0)
        {
            throw Invalid(path, "the file holds no records");
        }

        return new ReplayFile(path, bytes, layoutId, count, payloadLength!.Value);
    }

    private static string? CheckRecord(ReadOnlySpan<byte> rest, uint fileLayoutId, FrameLayout? layout, ref int? payloadLength, out int recordLength)
    {
        recordLength = 0;
        var error = FrameHeader.TryRead(rest, out var header);
        switch (error)
        {
            case FrameError.None:
                break;
            case FrameError.BadMagic:
                return $"the frame magic is 0x{BinaryPrimitives.ReadUInt32LittleEndian(rest):X8}, a record starts with \"KRF1\" (0x{FrameHeader.Magic:X8})";
            case FrameError.BadVersion:
                return $"frame version {rest[4]}, this Kairo reads version {FrameHeader.Version}";
            default:
                return rest.Length < FrameHeader.Size
                    ? $"cut short: {rest.Length} bytes left, a record header is {FrameHeader.Size}"
                    : $"cut short: the header announces {BinaryPrimitives.ReadInt32LittleEndian(rest[28..])} payload bytes, {rest.Length - FrameHeader.Size} are left";
        }

        if (header.Kind != FrameKind.Input)
        {
            return $"kind {(byte)header.Kind}, a recording holds input frames (kind {(byte)FrameKind.Input})";
        }

        uint expectedLayout = layout?.LayoutId ?? fileLayoutId;
        if (header.LayoutId != 0 && expectedLayout != 0 && header.LayoutId != expectedLayout)
        {
            return $"layout 0x{header.LayoutId:X8}, expected 0x{expectedLayout:X8}";
        }

        if (payloadLength is int expected && header.PayloadLength != expected)
        {
            return layout != null
                ? $"the payload is {header.PayloadLength} bytes, the loop's input frame is {expected} bytes ({layout})"
                : $"the payload is {header.PayloadLength} bytes, the records before it are {expected} bytes";
        }

        payloadLength = header.PayloadLength;
        recordLength = FrameHeader.Size + header.PayloadLength;
        return null;
    }

    private static InvalidDataException Invalid(string path, string problem) => new($"replay file {path}: {problem}");
}

/// <summary>Writes a recording: the file header, then one record per input frame.</summary>
public sealed class ReplayFileWriter : IDisposable
{
    private readonly FileStream _stream;
    private readonly uint _layoutId;
    private readonly byte[] _header = new byte[FrameHeader.Size];
    private int _payloadLength = -1;

    /// <summary>Creates (or replaces) <paramref name="path"/> for frames of layout <paramref name="layoutId"/> (0 = not declared).</summary>
    public ReplayFileWriter(string path, uint layoutId)
    {
        Path = path;
        _layoutId = layoutId;
        _stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read);
        Span<byte> header = stackalloc byte[ReplayFile.HeaderSize];
        header.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(header, ReplayFile.Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], ReplayFile.Version);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], layoutId);
        _stream.Write(header);
    }

    public string Path { get; }

    /// <summary>Records written.</summary>
    public int Count { get; private set; }

    /// <summary>Bytes written, header included.</summary>
    public long Length => _stream.Position;

    /// <summary>Appends one input frame with a header of this file's layout.</summary>
    public void Append(ulong sequence, long timestampNanoseconds, ReadOnlySpan<byte> payload)
    {
        CheckLength(payload.Length);
        new FrameHeader(FrameKind.Input, FrameFlags.None, sequence, timestampNanoseconds, _layoutId, payload.Length).Write(_header);
        _stream.Write(_header);
        _stream.Write(payload);
        Count++;
    }

    /// <summary>Appends an input datagram as it arrived, header and payload, after checking it is one.</summary>
    public void AppendDatagram(ReadOnlySpan<byte> datagram)
    {
        var error = FrameHeader.TryRead(datagram, out var header);
        if (error == FrameError.None && header.Kind != FrameKind.Input)
        {
            error = FrameError.WrongKind;
        }

        if (error == FrameError.None && header.LayoutId != 0 && _layoutId != 0 && header.LayoutId != _layoutId)
        {
            error = FrameError.WrongLayout;
        }

        if (error == FrameError.None && datagram.Length != FrameHeader.Size + header.PayloadLength)
        {
            error = FrameError.WrongSize;
        }

        if (error != FrameError.None)
        {
            throw new ArgumentException($"replay file {Path}: a datagram of {datagram.Length} bytes is not an input frame of this recording ({error})", nameof(datagram));
        }

        CheckLength(header.PayloadLength);
        _stream.Write(datagram);
        Count++;
    }

    public void Flush() => _stream.Flush(flushToDisk: true);

    private void CheckLength(int length)
    {
        if (_payloadLength >= 0 && length != _payloadLength)
        {
            throw new ArgumentException($"replay file {Path}: a frame of {length} bytes after frames of {_payloadLength}; a recording holds one kind of frame");
        }

        if (_stream.Position + FrameHeader.Size + length > ReplayFile.MaxFileBytes)
        {
            throw new InvalidOperationException($"replay file {Path}: another frame would take it past {ReplayFile.MaxFileBytes} bytes (1 GiB), the most a replay loads");
        }

        _payloadLength = length;
    }

    public void Dispose()
    {
        _stream.Dispose();
    }
}
