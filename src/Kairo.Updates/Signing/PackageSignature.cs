using System.Text.Json;
using Kairo.Updates.Packages;

namespace Kairo.Updates.Signing;

/// <summary>One entry of signatures.json: which key, which algorithm, and the signature in base64.</summary>
/// <param name="KeyId">The signing key's id (lowercase hex SHA-256 of its SubjectPublicKeyInfo DER).</param>
/// <param name="Algorithm">Always <see cref="SignatureAlgorithm.EcdsaP256Sha256"/> today.</param>
/// <param name="Signature">Base64 of the 64-byte IEEE P1363 r‖s signature over manifest.json's exact bytes.</param>
public sealed record PackageSignature(string KeyId, string Algorithm, string Signature);

/// <summary>
/// signatures.json: <c>{ "signatures": [{ "keyId", "algorithm", "signature" }] }</c>. It is not signed itself; each
/// entry proves itself against manifest.json, so the file may gain entries without touching the manifest.
/// </summary>
public static class PackageSignatures
{
    /// <summary>The largest signatures.json read.</summary>
    public const int MaxBytes = 64 << 10;

    /// <summary>The most entries read; a threshold needs a handful.</summary>
    public const int MaxSignatures = 64;

    /// <summary>The entries of signatures.json; <see cref="UpdateFailure.SignatureInvalid"/> when it is malformed.</summary>
    public static IReadOnlyList<PackageSignature> Parse(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length > MaxBytes)
        {
            throw Invalid($"the file is {utf8.Length} bytes, more than the {MaxBytes} it may have");
        }

        if (JsonDocuments.Problem(utf8) is { } malformed)
        {
            throw Invalid($"the file {malformed}");
        }

        SignaturesDocument? document;
        try
        {
            document = JsonSerializer.Deserialize(utf8, UpdatesJson.Strict.SignaturesDocument);
        }
        catch (JsonException ex)
        {
            throw new UpdateException(UpdateFailure.SignatureInvalid,
                $"signatures.json: the document does not fit the format {JsonDocuments.Where(ex)}; expected {{ \"signatures\": [{{ \"keyId\", \"algorithm\", \"signature\" }}] }}", ex);
        }

        List<SignatureEntryDocument?> entries = document?.Signatures ?? throw Invalid("\"signatures\" is missing; expected { \"signatures\": [...] }");
        if (entries.Count > MaxSignatures)
        {
            throw Invalid($"\"signatures\" holds {entries.Count} entries, more than the {MaxSignatures} read");
        }

        var signatures = new PackageSignature[entries.Count];
        for (int i = 0; i < entries.Count; i++)
        {
            SignatureEntryDocument entry = entries[i] ?? throw Invalid($"\"signatures[{i}]\" is null");
            signatures[i] = new PackageSignature(
                entry.KeyId ?? throw Invalid($"\"signatures[{i}].keyId\" is missing"),
                entry.Algorithm ?? throw Invalid($"\"signatures[{i}].algorithm\" is missing; it is \"{SignatureAlgorithm.EcdsaP256Sha256}\""),
                entry.Signature ?? throw Invalid($"\"signatures[{i}].signature\" is missing"));
        }

        return signatures;
    }

    /// <summary>signatures.json's bytes: indented UTF-8 JSON ending in a newline.</summary>
    public static byte[] ToUtf8Json(IEnumerable<PackageSignature> signatures)
    {
        var document = new SignaturesDocument
        {
            Signatures = signatures.Select(s => (SignatureEntryDocument?)new SignatureEntryDocument
            {
                KeyId = s.KeyId,
                Algorithm = s.Algorithm,
                Signature = s.Signature,
            }).ToList(),
        };
        return [.. JsonSerializer.SerializeToUtf8Bytes(document, UpdatesJson.Strict.SignaturesDocument), (byte)'\n'];
    }

    private static UpdateException Invalid(string message) => new(UpdateFailure.SignatureInvalid, "signatures.json: " + message);
}
