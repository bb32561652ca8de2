using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kairo.Updates.Packages;

// The documents as they lie on disk. Every member is nullable so that a missing field becomes a message naming it,
// not a default value; PackageManifest and the signature types are what a document becomes once its rules hold.

internal sealed class ManifestDocument
{
    public int? Schema { get; set; }

    public string? Model { get; set; }

    public long? Version { get; set; }

    public string? Release { get; set; }

    public List<string?>? CompatibleBoards { get; set; }

    public string? MinKairoVersion { get; set; }

    public RuntimeDocument? Runtime { get; set; }

    public SignatureLinesDocument? Signature { get; set; }

    public ToleranceDocument? Tolerance { get; set; }

    public double? LatencyBudgetMs { get; set; }

    public string? Expires { get; set; }

    public string? Created { get; set; }

    public List<FileDocument?>? Files { get; set; }
}

internal sealed class RuntimeDocument
{
    public string? OnnxRuntime { get; set; }
}

internal sealed class SignatureLinesDocument
{
    public List<string?>? Inputs { get; set; }

    public List<string?>? Outputs { get; set; }
}

internal sealed class ToleranceDocument
{
    public double? Atol { get; set; }

    public double? Rtol { get; set; }
}

internal sealed class FileDocument
{
    public string? Path { get; set; }

    public string? Sha256 { get; set; }

    public long? Length { get; set; }
}

internal sealed class SignaturesDocument
{
    public List<SignatureEntryDocument?>? Signatures { get; set; }
}

internal sealed class SignatureEntryDocument
{
    public string? KeyId { get; set; }

    public string? Algorithm { get; set; }

    public string? Signature { get; set; }
}

/// <summary>Source-generated JSON for manifest.json and signatures.json (Kairo is NativeAOT: no reflection).</summary>
[JsonSerializable(typeof(ManifestDocument))]
[JsonSerializable(typeof(SignaturesDocument))]
internal sealed partial class UpdatesJson : JsonSerializerContext
{
    /// <summary>
    /// camelCase, indented, exact member names, unknown members refused. Text stays readable (base64 keeps its '+'):
    /// the documents go to files and terminals, never into HTML.
    /// </summary>
    public static UpdatesJson Strict { get; } = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        MaxDepth = JsonDocuments.MaxDepth,
    });
}

/// <summary>Reading rules shared by the package's JSON documents.</summary>
internal static class JsonDocuments
{
    public const int MaxDepth = 16;

    /// <summary>
    /// Null when <paramref name="utf8"/> is well-formed JSON without a member named twice in one object; else what is
    /// wrong and where, worded to follow "the file". Two parsers that keep different copies of a duplicated member would read one signed
    /// document two ways, so a duplicate is refused outright.
    /// </summary>
    public static string? Problem(ReadOnlySpan<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = MaxDepth });
        var scopes = new Stack<HashSet<string>?>();
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                        scopes.Push(new HashSet<string>(StringComparer.Ordinal));
                        break;
                    case JsonTokenType.StartArray:
                        scopes.Push(null);
                        break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        scopes.Pop();
                        break;
                    case JsonTokenType.PropertyName:
                        string name = reader.GetString()!;
                        if (scopes.Peek() is { } names && !names.Add(name))
                        {
                            return $"names member \"{name}\" twice in one object (at byte {reader.TokenStartIndex}); each member may appear once";
                        }

                        break;
                }
            }
        }
        catch (JsonException ex)
        {
            return $"is not well-formed JSON at line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1}";
        }

        return null;
    }

    /// <summary>Where a deserialization error is, e.g. <c>at $.files[2].length</c>.</summary>
    public static string Where(JsonException ex) => ex.Path is { Length: > 0 } path ? $"at {path}" : $"at line {ex.LineNumber + 1}";
}
