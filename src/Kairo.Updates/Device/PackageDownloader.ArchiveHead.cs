using System.Text;
using Kairo.Updates.Packages;
using Kairo.Updates.Signing;

namespace Kairo.Updates.Device;

// The front of a package archive, read from the bytes as they arrive: manifest.json and signatures.json.
public sealed partial class PackageDownloader
{
    internal const int TarBlock = 512;

    /// <summary>The two zero blocks that end an archive, as TarWriter writes them.</summary>
    internal const int TarEndBlocks = 2 * TarBlock;

    /// <summary>The tar record: GNU tar pads an archive to a multiple of it.</summary>
    internal const int TarRecord = 20 * TarBlock;

    /// <summary>
    /// The most bytes read before the package is authorized: manifest.json's header and its largest padded data,
    /// signatures.json's header and data, and one header more. Nothing past it is needed to judge a package.
    /// </summary>
    internal const long HeadLimit = TarBlock + ((PackageManifest.MaxBytes + TarBlock - 1) / TarBlock * TarBlock)
        + TarBlock + ((PackageSignatures.MaxBytes + TarBlock - 1) / TarBlock * TarBlock) + TarBlock;

    /// <summary>
    /// Follows the ustar headers at the start of an archive until manifest.json (the first entry) and signatures.json
    /// (the second, when present) are in. It refuses an oversized manifest or signatures file from its header alone, so
    /// a hostile server cannot make the device store a megabyte of anything before the package is judged.
    /// </summary>
    internal sealed class ArchiveHead(string source)
    {
        private enum Stage
        {
            ManifestHeader,
            ManifestData,
            ManifestPadding,
            SecondHeader,
            SignaturesData,
            Complete,
        }

        private readonly byte[] _header = new byte[TarBlock];
        private Stage _stage;
        private int _headerFill;
        private byte[] _data = [];
        private int _dataFill;
        private int _padding;

        public bool IsComplete => _stage == Stage.Complete;

        /// <summary>manifest.json's exact bytes, once read.</summary>
        public byte[]? Manifest { get; private set; }

        /// <summary>signatures.json's exact bytes once read; null when the archive has none.</summary>
        public byte[]? Signatures { get; private set; }

        /// <summary>Takes the next bytes of the archive; what follows the head is ignored.</summary>
        public void Feed(ReadOnlySpan<byte> bytes)
        {
            while (!bytes.IsEmpty && _stage != Stage.Complete)
            {
                int take;
                switch (_stage)
                {
                    case Stage.ManifestHeader or Stage.SecondHeader:
                        take = Math.Min(TarBlock - _headerFill, bytes.Length);
                        bytes[..take].CopyTo(_header.AsSpan(_headerFill));
                        _headerFill += take;
                        if (_headerFill == TarBlock)
                        {
                            _headerFill = 0;
                            if (_stage == Stage.ManifestHeader)
                            {
                                OnManifestHeader();
                            }
                            else
                            {
                                OnSecondHeader();
                            }
                        }

                        break;

                    case Stage.ManifestData or Stage.SignaturesData:
                        take = Math.Min(_data.Length - _dataFill, bytes.Length);
                        bytes[..take].CopyTo(_data.AsSpan(_dataFill));
                        _dataFill += take;
                        EndDataIfFull();
                        break;

                    case Stage.ManifestPadding:
                        take = Math.Min(_padding, bytes.Length);
                        _padding -= take;
                        if (_padding == 0)
                        {
                            _stage = Stage.SecondHeader;
                        }

                        break;

                    default:
                        throw new InvalidOperationException($"unexpected stage {_stage}");
                }

                bytes = bytes[take..];
            }
        }

        private void OnManifestHeader()
        {
            Header header = Parse("the first 512 bytes");
            if (header.IsEnd)
            {
                throw new UpdateException(UpdateFailure.PackageInvalid,
                    $"{source}: the archive is empty (it starts with an end-of-archive block); a package archive starts with manifest.json");
            }

            if (!header.IsRegularFile || !IsNamed(header.Name, PackagePaths.Manifest))
            {
                throw new UpdateException(UpdateFailure.PackageInvalid,
                    $"{source}: the archive's first entry is '{header.Name}' (type '{header.TypeName}'); a package archive starts with manifest.json, as kairoctl pack --tar and kairoctl sign write it");
            }

            if (header.Size > PackageManifest.MaxBytes)
            {
                throw new UpdateException(UpdateFailure.ManifestInvalid,
                    $"{source}: manifest.json in the archive is {header.Size} bytes, more than the {PackageManifest.MaxBytes} a manifest may have");
            }

            StartData(Stage.ManifestData, (int)header.Size);
        }

        private void OnSecondHeader()
        {
            Header header = Parse("the header after manifest.json");
            if (!header.IsEnd && header.IsRegularFile && IsNamed(header.Name, PackagePaths.Signatures))
            {
                if (header.Size > PackageSignatures.MaxBytes)
                {
                    throw new UpdateException(UpdateFailure.SignatureInvalid,
                        $"{source}: signatures.json in the archive is {header.Size} bytes, more than the {PackageSignatures.MaxBytes} it may have");
                }

                StartData(Stage.SignaturesData, (int)header.Size);
                return;
            }

            // Anything else after the manifest means an unsigned package: authorize judges that.
            _stage = Stage.Complete;
        }

        private void StartData(Stage stage, int size)
        {
            _stage = stage;
            _data = new byte[size];
            _dataFill = 0;
            EndDataIfFull();
        }

        private void EndDataIfFull()
        {
            if (_dataFill < _data.Length)
            {
                return;
            }

            if (_stage == Stage.ManifestData)
            {
                Manifest = _data;
                _padding = (TarBlock - (_data.Length % TarBlock)) % TarBlock;
                _stage = _padding == 0 ? Stage.SecondHeader : Stage.ManifestPadding;
            }
            else
            {
                // The padding after signatures.json belongs to the rest of the archive; the head is whole.
                Signatures = _data;
                _stage = Stage.Complete;
            }

            _data = [];
        }

        private static bool IsNamed(string name, string expected) =>
            name == expected || (name.StartsWith("./", StringComparison.Ordinal) && name.AsSpan(2).SequenceEqual(expected));

        private readonly record struct Header(bool IsEnd, string Name, byte Type, long Size)
        {
            public bool IsRegularFile => Type is (byte)'0' or 0;

            public string TypeName => Type == 0 ? "0" : Printable([Type]);
        }

        private Header Parse(string what)
        {
            ReadOnlySpan<byte> block = _header;
            if (!block.ContainsAnyExcept((byte)0))
            {
                return new Header(true, "", 0, 0);
            }

            if (Octal(block.Slice(148, 8)) is not { } stored || (stored != UnsignedSum(block) && stored != SignedSum(block)))
            {
                throw new UpdateException(UpdateFailure.PackageInvalid,
                    $"{source}: {what} of the archive are not a tar header (the checksum does not match); the URL must name a package archive (.kpkg), uncompressed");
            }

            string name = Field(block[..100]);

            // The prefix field exists in POSIX ustar only; GNU tar keeps other data in those bytes.
            if (block.Slice(257, 6).SequenceEqual("ustar\0"u8) && Field(block.Slice(345, 155)) is { Length: > 0 } prefix)
            {
                name = $"{prefix}/{name}";
            }

            long size = (block[124] & 0x80) != 0 ? BaseTwoFiftySix(block.Slice(124, 12))
                : Octal(block.Slice(124, 12)) ?? throw new UpdateException(UpdateFailure.PackageInvalid,
                    $"{source}: the archive entry '{name}' has a size field that is not an octal number; the archive is damaged");
            return new Header(false, name, block[156], size);
        }

        /// <summary>A NUL- or space-terminated octal field; null when it holds anything else.</summary>
        private static long? Octal(ReadOnlySpan<byte> field)
        {
            field = field.TrimStart((byte)' ');
            int end = field.IndexOfAny((byte)0, (byte)' ');
            ReadOnlySpan<byte> digits = end >= 0 ? field[..end] : field;
            if (digits.IsEmpty)
            {
                return null;
            }

            long value = 0;
            foreach (byte digit in digits)
            {
                if (digit is < (byte)'0' or > (byte)'7' || value > (long.MaxValue >> 3))
                {
                    return null;
                }

                value = (value << 3) | (long)(digit - '0');
            }

            return value;
        }

        /// <summary>GNU's base-256 size, for files of 8 GiB and more; saturates, since any such size is refused anyway.</summary>
        private static long BaseTwoFiftySix(ReadOnlySpan<byte> field)
        {
            long value = field[0] & 0x3F;
            foreach (byte b in field[1..])
            {
                if (value > (long.MaxValue >> 8))
                {
                    return long.MaxValue;
                }

                value = (value << 8) | b;
            }

            return (field[0] & 0x40) != 0 ? long.MaxValue : value; // a negative size is as refused as a huge one
        }

        // The checksum counts the checksum field as eight spaces; old tars summed signed bytes.
        private static long UnsignedSum(ReadOnlySpan<byte> block)
        {
            long sum = 8 * ' ';
            for (int i = 0; i < TarBlock; i++)
            {
                sum += i is >= 148 and < 156 ? 0 : block[i];
            }

            return sum;
        }

        private static long SignedSum(ReadOnlySpan<byte> block)
        {
            long sum = 8 * ' ';
            for (int i = 0; i < TarBlock; i++)
            {
                sum += i is >= 148 and < 156 ? 0 : (sbyte)block[i];
            }

            return sum;
        }

        private static string Field(ReadOnlySpan<byte> field)
        {
            int end = field.IndexOf((byte)0);
            return Printable(end >= 0 ? field[..end] : field);
        }

        /// <summary>A name as it may appear in an error: non-printable bytes escaped, since a hostile archive chooses them.</summary>
        private static string Printable(ReadOnlySpan<byte> bytes)
        {
            var text = new StringBuilder(bytes.Length);
            foreach (byte b in bytes)
            {
                text.Append(b is >= 0x20 and < 0x7F and not (byte)'\'' ? (char)b : $"\\x{b:x2}");
            }

            return text.ToString();
        }
    }
}
