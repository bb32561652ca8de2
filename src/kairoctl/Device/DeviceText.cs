using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Kairo.Ctl.Device;

/// <summary>Reading fields out of the device's JSON without trusting their types, and writing them for people.</summary>
internal static class DeviceText
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static string? String(JsonNode? node) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;

    public static long? Long(JsonNode? node) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out long l) ? l : null;

    public static double? Double(JsonNode? node) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out double d) ? d : null;

    public static bool? Bool(JsonNode? node) =>
        node is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False ? v.GetValue<bool>() : null;

    /// <summary>Indented, with quotes and non-ASCII text left readable: it goes to a terminal or a file, never into HTML.</summary>
    public static string Pretty(JsonNode? node)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            if (node is null)
            {
                writer.WriteNullValue();
            }
            else
            {
                node.WriteTo(writer);
            }
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary><c>2026-11-21 06:15:34 UTC</c> from the device's ISO 8601 time stamps; anything else as it is.</summary>
    public static string Timestamp(string ts) =>
        DateTimeOffset.TryParse(ts, Invariant, DateTimeStyles.RoundtripKind, out var t)
            ? t.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss 'UTC'", Invariant)
            : ts;

    /// <summary><c>06:15:34</c>: the time of day (UTC) of a time stamp, for event lists.</summary>
    public static string TimeOfDay(string? ts) =>
        ts != null && DateTimeOffset.TryParse(ts, Invariant, DateTimeStyles.RoundtripKind, out var t)
            ? t.ToUniversalTime().ToString("HH:mm:ss", Invariant)
            : "--:--:--";

    /// <summary><c>2 d 03 h</c>, <c>1 h 02 min</c>, <c>3 min 12 s</c>, <c>12.3 s</c>.</summary>
    public static string Duration(double seconds)
    {
        var t = TimeSpan.FromSeconds(Math.Max(0, seconds));
        return t.TotalDays >= 1 ? string.Create(Invariant, $"{(int)t.TotalDays} d {t.Hours:00} h")
            : t.TotalHours >= 1 ? string.Create(Invariant, $"{(int)t.TotalHours} h {t.Minutes:00} min")
            : t.TotalMinutes >= 1 ? string.Create(Invariant, $"{(int)t.TotalMinutes} min {t.Seconds:00} s")
            : string.Create(Invariant, $"{t.TotalSeconds:0.0} s");
    }

    /// <summary>Nanoseconds as microseconds with one decimal; <c>-</c> when absent.</summary>
    public static string Micros(long? ns) => ns is { } v ? string.Create(Invariant, $"{v / 1e3:0.0}") : "-";

    /// <summary>A rate without trailing zeros: <c>30</c>, <c>33.333</c>.</summary>
    public static string Rate(double? hz) => hz is { } v ? v.ToString("0.###", Invariant) : "-";

    public static string Count(long? n) => n is { } v ? v.ToString(Invariant) : "-";

    /// <summary><c>0 B</c>, <c>512 B</c>, <c>12.3 KiB</c>, <c>4.0 MiB</c>.</summary>
    public static string Bytes(long? n) => n switch
    {
        null => "-",
        < 1024 => string.Create(Invariant, $"{n} B"),
        < 1024 * 1024 => string.Create(Invariant, $"{n / 1024.0:0.0} KiB"),
        _ => string.Create(Invariant, $"{n / (1024.0 * 1024):0.0} MiB"),
    };

    /// <summary><c>driving v2</c> from a <c>{name, version}</c> object.</summary>
    public static string Model(JsonNode? model) =>
        model is JsonObject m ? $"{String(m["name"]) ?? "?"} v{Count(Long(m["version"]))}" : "-";

    /// <summary>
    /// Rows of cells as columns two spaces apart, the first row a header; <paramref name="align"/> has an <c>r</c> for
    /// each column set flush right (numbers), anything else for flush left.
    /// </summary>
    public static IEnumerable<string> Table(IReadOnlyList<string[]> rows, string align = "")
    {
        if (rows.Count == 0)
        {
            yield break;
        }

        var widths = new int[rows.Max(r => r.Length)];
        foreach (var row in rows)
        {
            for (int i = 0; i < row.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }

        var line = new StringBuilder();
        foreach (var row in rows)
        {
            line.Clear();
            for (int i = 0; i < row.Length; i++)
            {
                bool right = i < align.Length && align[i] == 'r';
                line.Append(right ? row[i].PadLeft(widths[i]) : row[i].PadRight(widths[i]));
                if (i < row.Length - 1)
                {
                    line.Append("  ");
                }
            }

            yield return line.ToString().TrimEnd();
        }
    }
}
