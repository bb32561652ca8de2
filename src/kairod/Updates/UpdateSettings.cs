using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Kairo.Daemon.Config;
using Kairo.Updates.Signing;

namespace Kairo.Daemon.Updates;

/// <summary>
/// The files the profile's <c>updates</c> section names, read and judged the same way by <c>--check-config</c> and
/// at start: each trusted key must load, the threshold must not exceed the distinct keys, the CA file must hold
/// certificates. Every problem names its JSON path.
/// </summary>
internal static class UpdateSettings
{
    public static List<TrustedKey> LoadTrustedKeys(LoadedProfile loaded, List<string> problems)
    {
        var section = loaded.Profile.Updates;
        var keys = new List<TrustedKey>();
        var files = section?.TrustedKeys ?? [];
        for (int i = 0; i < files.Count; i++)
        {
            string path = Path.GetFullPath(files[i], loaded.BaseDirectory);
            if (!File.Exists(path))
            {
                problems.Add($"$.updates.trustedKeys[{i}]: '{files[i]}' does not exist (looked for {path}); give a public key from kairoctl keygen");
                continue;
            }

            try
            {
                keys.Add(TrustedKey.Load(path));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or ArgumentException or CryptographicException)
            {
                problems.Add($"$.updates.trustedKeys[{i}]: '{files[i]}' is not a usable public key: {e.Message}");
            }
        }

        int distinct = keys.Select(k => k.KeyId).Distinct(StringComparer.Ordinal).Count();
        if (section?.Threshold is int threshold && keys.Count == files.Count && threshold > distinct)
        {
            problems.Add($"$.updates.threshold: {threshold} is more than the {distinct} distinct trusted keys (a key listed twice counts once)");
        }

        if (section?.Download?.CaFile is { } ca)
        {
            string path = Path.GetFullPath(ca, loaded.BaseDirectory);
            try
            {
                var certificates = new X509Certificate2Collection();
                certificates.ImportFromPemFile(path);
                if (certificates.Count == 0)
                {
                    problems.Add($"$.updates.download.caFile: '{ca}' holds no PEM certificate");
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
            {
                problems.Add(File.Exists(path)
                    ? $"$.updates.download.caFile: '{ca}' is not a PEM file of CA certificates: {e.Message}"
                    : $"$.updates.download.caFile: '{ca}' does not exist (looked for {path})");
            }
        }

        return keys;
    }
}
