namespace Kairo.Updates.Http;

/// <summary>
/// The one range of a <c>Range: bytes=...</c> header a package server honours: <c>a-b</c>, <c>a-</c> or the suffix
/// <c>-n</c>. A header it does not understand (another unit, several ranges, <c>b &lt; a</c>) is ignored and the whole
/// file is sent, as HTTP allows; a range that starts past the end is unsatisfiable (416).
/// </summary>
internal readonly record struct ByteRange(long Start, long Length)
{
    public long End => Start + Length - 1;

    public enum Outcome
    {
        /// <summary>No usable range: send the whole file with 200.</summary>
        Whole,

        /// <summary>Send <see cref="ByteRange"/> with 206.</summary>
        Partial,

        /// <summary>Send 416 with <c>Content-Range: bytes */length</c>.</summary>
        Unsatisfiable,
    }

    public static Outcome Parse(string? header, long fileLength, out ByteRange range)
    {
        range = default;
        if (header is null)
        {
            return Outcome.Whole;
        }

        string value = header.Trim();
        const string Unit = "bytes=";
        if (!value.StartsWith(Unit, StringComparison.OrdinalIgnoreCase))
        {
            return Outcome.Whole;
        }

        string spec = value[Unit.Length..].Trim();
        if (spec.Contains(','))
        {
            return Outcome.Whole; // several ranges would need multipart/byteranges; the whole file answers them too
        }

        int dash = spec.IndexOf('-');
        if (dash < 0)
        {
            return Outcome.Whole;
        }

        string first = spec[..dash].Trim();
        string last = spec[(dash + 1)..].Trim();
        if (first.Length == 0)
        {
            // -n: the last n bytes.
            if (Digits(last) is not { } suffix)
            {
                return Outcome.Whole;
            }

            if (suffix == 0 || fileLength == 0)
            {
                return Outcome.Unsatisfiable;
            }

            long count = Math.Min(suffix, fileLength);
            range = new ByteRange(fileLength - count, count);
            return Outcome.Partial;
        }

        if (Digits(first) is not { } start)
        {
            return Outcome.Whole;
        }

        long end = fileLength - 1;
        if (last.Length > 0)
        {
            if (Digits(last) is not { } lastByte || lastByte < start)
            {
                return Outcome.Whole;
            }

            end = Math.Min(lastByte, fileLength - 1);
        }

        if (start >= fileLength)
        {
            return Outcome.Unsatisfiable;
        }

        range = new ByteRange(start, end - start + 1);
        return Outcome.Partial;
    }

    /// <summary>A run of ASCII digits as a number (saturating at <see cref="long.MaxValue"/>), or null.</summary>
    private static long? Digits(string text)
    {
        if (text.Length == 0)
        {
            return null;
        }

        long value = 0;
        foreach (char c in text)
        {
            if (c is < '0' or > '9')
            {
                return null;
            }

            value = value > (long.MaxValue - 9) / 10 ? long.MaxValue : (value * 10) + (c - '0');
        }

        return value;
    }
}
