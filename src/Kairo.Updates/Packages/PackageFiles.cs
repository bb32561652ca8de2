using System.Buffers;
using System.Security.Cryptography;

namespace Kairo.Updates.Packages;

/// <summary>Reading a package's files without trusting them: bounded reads, capped hashing, no links followed.</summary>
internal static class PackageFiles
{
    private const int BufferSize = 64 << 10;

    /// <summary>
    /// Why the file at <paramref name="relativePath"/> under <paramref name="root"/> cannot be read as a package file
    /// (<c>file_missing</c>; <c>package_invalid</c> for a link anywhere on the path or a directory), or null.
    /// </summary>
    public static PackageCheck? Refusal(string root, string relativePath)
    {
        string current = Path.GetFullPath(root);
        string[] segments = relativePath.Split('/');
        for (int i = 0; i < segments.Length; i++)
        {
            current = Path.Combine(current, segments[i]);
            FileSystemInfo info = i < segments.Length - 1 ? new DirectoryInfo(current) : new FileInfo(current);
            if (info.LinkTarget is not null)
            {
                // A link could point anywhere, at a file another package or the system owns; a package holds its own bytes.
                return PackageCheck.Fail("files", UpdateFailure.PackageInvalid,
                    $"{string.Join('/', segments[..(i + 1)])} is a symbolic link; a package holds regular files and directories only");
            }

            if (i == segments.Length - 1 && Directory.Exists(current))
            {
                return PackageCheck.Fail("files", UpdateFailure.PackageInvalid, $"{relativePath} is a directory, listed as a file");
            }

            if (!info.Exists)
            {
                return PackageCheck.Fail("files", UpdateFailure.FileMissing,
                    $"{relativePath} is listed in the manifest but missing from the package{(i < segments.Length - 1 ? $" (no directory {string.Join('/', segments[..(i + 1)])})" : "")}");
            }
        }

        return null;
    }

    /// <summary>The file's bytes, or null when it holds more than <paramref name="maxBytes"/>.</summary>
    public static byte[]? ReadBounded(string path, int maxBytes)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        var content = new MemoryStream();
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            for (int read; (read = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, maxBytes + 1L - content.Length))) > 0;)
            {
                content.Write(buffer, 0, read);
                if (content.Length > maxBytes)
                {
                    return null;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return content.ToArray();
    }

    /// <summary>
    /// SHA-256 of the first <paramref name="length"/> bytes and how many bytes the file held, counting at most
    /// <paramref name="length"/> + 1: a longer file is found without reading all of it, however much there is.
    /// </summary>
    public static (long BytesRead, byte[] Sha256) HashCapped(string path, long length, CancellationToken cancellationToken)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        long total = 0;
        try
        {
            while (total <= length)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int want = (int)Math.Min(buffer.Length, length + 1 - total);
                int read = stream.Read(buffer, 0, want);
                if (read == 0)
                {
                    break;
                }

                // Only signed bytes go into the hash; the one past the end only proves the file is too long.
                long hashable = Math.Min(read, length - total);
                if (hashable > 0)
                {
                    hash.AppendData(buffer, 0, (int)hashable);
                }

                total += read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return (total, hash.GetHashAndReset());
    }

    /// <summary>SHA-256 (lowercase hex) and length of a whole file.</summary>
    public static (string Sha256, long Length) Describe(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        byte[] sha256 = SHA256.HashData(stream);
        return (Convert.ToHexStringLower(sha256), stream.Length);
    }
}
