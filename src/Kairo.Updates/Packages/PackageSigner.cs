using Kairo.Updates.Signing;

namespace Kairo.Updates.Packages;

/// <summary>Adds signatures to a package directory's signatures.json.</summary>
public static class PackageSigner
{
    /// <summary>
    /// Signs the exact bytes of the package's manifest.json with <paramref name="key"/>, replacing any earlier signature
    /// by the same key and keeping the others. Refuses a package whose files do not match its manifest: a signature
    /// vouches for what was checked. signatures.json is replaced whole, never half-written.
    /// </summary>
    /// <returns>Every signature of the package now.</returns>
    /// <exception cref="UpdateException">The manifest, the files or the existing signatures.json fail their checks.</exception>
    public static IReadOnlyList<PackageSignature> Sign(string directory, SigningKey key, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(key);
        PackageVerifier.ReadManifest(directory, out byte[]? manifestBytes, out PackageManifest? manifest).ThrowIfFailed();
        PackageVerifier.CheckFiles(directory, manifest!, cancellationToken).ThrowIfFailed();
        PackageVerifier.CheckUnlisted(directory, manifest!).ThrowIfFailed();

        string path = Path.Combine(directory, PackagePaths.Signatures);
        var signatures = new List<PackageSignature>();
        if (File.Exists(path))
        {
            byte[] existing = PackageFiles.ReadBounded(path, PackageSignatures.MaxBytes)
                ?? throw new UpdateException(UpdateFailure.SignatureInvalid, $"{path} is larger than {PackageSignatures.MaxBytes} bytes; delete it and sign again");
            try
            {
                signatures.AddRange(PackageSignatures.Parse(existing));
            }
            catch (UpdateException ex)
            {
                throw new UpdateException(ex.Failure, $"{ex.Message}; delete {path} and sign again with every key", ex);
            }
        }

        signatures.RemoveAll(s => s.KeyId == key.KeyId);
        signatures.Add(key.SignManifest(manifestBytes));
        WriteReplacing(path, PackageSignatures.ToUtf8Json(signatures));
        return signatures;
    }

    private static void WriteReplacing(string path, byte[] content)
    {
        string temporary = $"{path}.{Path.GetRandomFileName()}.tmp";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(content);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }
}
