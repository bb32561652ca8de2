using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Kairo.Updates.Device;

// installed.json as it lies on disk. Every member is nullable so that a missing one becomes a message naming it
// (the store refuses to guess what is installed), not a default value.

internal sealed class InstalledDocument
{
    public int? Schema { get; set; }

    public Dictionary<string, InstalledModelDocument?>? Models { get; set; }
}

internal sealed class InstalledModelDocument
{
    public InstalledVersionDocument? Active { get; set; }

    public InstalledVersionDocument? Previous { get; set; }

    public List<InstalledVersionDocument?>? Older { get; set; }

    public long? HighestVersion { get; set; }
}

internal sealed class InstalledVersionDocument
{
    public long? Version { get; set; }

    public string? Release { get; set; }

    public string? Digest { get; set; }
}

/// <summary>
/// Source-generated JSON for the device's own files, installed.json and the update journal (Kairo is NativeAOT: no
/// reflection). Unknown members are skipped rather than refused: these files are written by the device itself, and a
/// Kairo put back to an older release must still read what the newer one wrote.
/// </summary>
[JsonSerializable(typeof(InstalledDocument))]
[JsonSerializable(typeof(UpdateRecord))]
internal sealed partial class DeviceJson : JsonSerializerContext
{
    /// <summary>camelCase, nulls left out, steps as snake_case names (<c>rolled_back</c>); readable text, never HTML.</summary>
    public static DeviceJson Files { get; } = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Converters = { new JsonStringEnumConverter<UpdateStep>(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false) },
        MaxDepth = 16,
    });

    /// <summary>The UTF-8 JSON of <paramref name="value"/>, indented for people (files) or on one line (JSON Lines).</summary>
    public static byte[] Serialize<T>(T value, JsonTypeInfo<T> typeInfo, bool indented)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented, Encoder = Files.Options.Encoder }))
        {
            JsonSerializer.Serialize(writer, value, typeInfo);
        }

        if (indented)
        {
            buffer.Write("\n"u8);
        }

        return buffer.WrittenSpan.ToArray();
    }
}
