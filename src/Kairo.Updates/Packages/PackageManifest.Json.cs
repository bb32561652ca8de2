using System.Globalization;
using System.Text.Json;
using Kairo.Onnx.TestData;

namespace Kairo.Updates.Packages;

// manifest.json: reading with every rule checked, and writing only what reads back.
public sealed partial record PackageManifest
{
    private const int MaxNameLength = 64;
    private const int MaxReleaseLength = 128;

    /// <summary>
    /// Parses and checks manifest.json. Throws <see cref="UpdateException"/> with <see cref="UpdateFailure.ManifestInvalid"/>
    /// naming the first field that breaks a rule, its value and what would be right.
    /// </summary>
    public static PackageManifest Parse(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length > MaxBytes)
        {
            throw Invalid($"the file is {utf8.Length} bytes, more than the {MaxBytes} a manifest may have");
        }

        if (JsonDocuments.Problem(utf8) is { } malformed)
        {
            throw Invalid($"the file {malformed}");
        }

        ManifestDocument? document;
        try
        {
            document = JsonSerializer.Deserialize(utf8, UpdatesJson.Strict.ManifestDocument);
        }
        catch (JsonException ex)
        {
            throw new UpdateException(UpdateFailure.ManifestInvalid,
                $"manifest.json: the document does not fit the manifest format {JsonDocuments.Where(ex)}: a member of the wrong type, or one the format does not have", ex);
        }

        return FromDocument(document ?? throw Invalid("the file holds null, not a manifest object"));
    }

    /// <summary>manifest.json's bytes: indented UTF-8 JSON ending in a newline. Throws what <see cref="Parse"/> would on the result.</summary>
    public byte[] ToUtf8Json()
    {
        var document = new ManifestDocument
        {
            Schema = Schema,
            Model = Model,
            Version = Version,
            Release = Release,
            CompatibleBoards = [.. CompatibleBoards],
            MinKairoVersion = MinKairoVersion,
            Runtime = new RuntimeDocument { OnnxRuntime = Runtime.OnnxRuntime },
            Signature = new SignatureLinesDocument { Inputs = [.. Signature.Inputs], Outputs = [.. Signature.Outputs] },
            Tolerance = new ToleranceDocument { Atol = Tolerance.Atol, Rtol = Tolerance.Rtol },
            LatencyBudgetMs = LatencyBudgetMs,
            Expires = UtcTimestamp.Format(Expires),
            Created = UtcTimestamp.Format(Created),
            Files = Files.Select(f => (FileDocument?)new FileDocument { Path = f.Path, Sha256 = f.Sha256, Length = f.Length }).ToList(),
        };
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(document, UpdatesJson.Strict.ManifestDocument);
        byte[] bytes = [.. json, (byte)'\n'];
        Parse(bytes); // a device must be able to read every manifest Kairo writes
        return bytes;
    }

    private static PackageManifest FromDocument(ManifestDocument d)
    {
        int schema = d.Schema ?? throw Invalid(Missing("schema", "1"));
        if (schema != CurrentSchema)
        {
            throw Invalid(schema > CurrentSchema
                ? $"\"schema\" is {schema}, newer than the {CurrentSchema} this Kairo reads: update Kairo before this package"
                : $"\"schema\" is {schema}; the manifest format is schema {CurrentSchema}");
        }

        string model = d.Model ?? throw Invalid(Missing("model", "\"pilotnet\""));
        if (!IsName(model))
        {
            throw Invalid($"\"model\" is \"{model}\"; a model name is 1 to {MaxNameLength} of A-Z a-z 0-9 . _ - starting with a letter or digit, e.g. \"pilotnet\"");
        }

        long version = d.Version ?? throw Invalid(Missing("version", "1"));
        if (version < 1)
        {
            throw Invalid($"\"version\" is {version}; a version is a whole number >= 1 that grows with every release");
        }

        string release = d.Release ?? throw Invalid(Missing("release", "\"2025.06\""));
        if (release.Length is 0 or > MaxReleaseLength || release.Any(char.IsControl))
        {
            throw Invalid($"\"release\" is \"{release}\"; a release is 1 to {MaxReleaseLength} printable characters, e.g. \"2025.06-rc1\"");
        }

        List<string?> boards = d.CompatibleBoards ?? throw Invalid(Missing("compatibleBoards", "[\"*\"]"));
        if (boards.Count == 0)
        {
            throw Invalid("\"compatibleBoards\" is empty; list the board names the package runs on, or [\"*\"] for every board");
        }

        foreach (string? board in boards)
        {
            if (board is null || (board != AnyBoard && !IsName(board)))
            {
                throw Invalid($"\"compatibleBoards\" holds {Quote(board)}; a board name is A-Z a-z 0-9 . _ -, e.g. \"rk3588-carrier\", or \"*\" for every board");
            }
        }

        if (boards.Contains(AnyBoard) && boards.Count > 1)
        {
            throw Invalid("\"compatibleBoards\" holds \"*\" and other names; \"*\" (every board) stands alone");
        }

        if (boards.Distinct(StringComparer.Ordinal).Count() != boards.Count)
        {
            throw Invalid("\"compatibleBoards\" names a board twice; list each once");
        }

        string minKairo = d.MinKairoVersion ?? throw Invalid(Missing("minKairoVersion", "\"0.1.0\""));
        if (VersionNumber.TryParse(minKairo) is null)
        {
            throw Invalid($"\"minKairoVersion\" is \"{minKairo}\"; give a version like \"0.1.0\"");
        }

        RuntimeDocument runtime = d.Runtime ?? throw Invalid(Missing("runtime", "{ \"onnxRuntime\": \"1.20.0\" }"));
        string onnxRuntime = runtime.OnnxRuntime ?? throw Invalid(Missing("runtime.onnxRuntime", "\"1.20.0\""));
        if (VersionNumber.TryParse(onnxRuntime) is null)
        {
            throw Invalid($"\"runtime.onnxRuntime\" is \"{onnxRuntime}\"; give a version like \"1.20.0\"");
        }

        SignatureLinesDocument signature = d.Signature ?? throw Invalid(
            Missing("signature", "{ \"inputs\": [\"x: float[1,4]\"], \"outputs\": [\"y: float[1,4]\"] }"));
        var inputs = SignatureLines(signature.Inputs, "inputs", allowEmpty: true);
        var outputs = SignatureLines(signature.Outputs, "outputs", allowEmpty: false);

        ToleranceDocument tolerance = d.Tolerance ?? throw Invalid(Missing("tolerance", "{ \"atol\": 0.001, \"rtol\": 0.001 }"));
        double atol = NonNegative(tolerance.Atol, "tolerance.atol");
        double rtol = NonNegative(tolerance.Rtol, "tolerance.rtol");

        double budget = d.LatencyBudgetMs ?? throw Invalid(Missing("latencyBudgetMs", "20"));
        if (!(budget > 0) || double.IsInfinity(budget))
        {
            throw Invalid($"\"latencyBudgetMs\" is {budget.ToString(CultureInfo.InvariantCulture)}; the budget is a number of milliseconds > 0, e.g. 20");
        }

        DateTimeOffset expires = Timestamp(d.Expires, "expires");
        DateTimeOffset created = Timestamp(d.Created, "created");
        if (expires <= created)
        {
            throw Invalid($"\"expires\" ({d.Expires}) is not after \"created\" ({d.Created}); a package expires after it is made");
        }

        return new PackageManifest
        {
            Schema = schema,
            Model = model,
            Version = version,
            Release = release,
            CompatibleBoards = boards.ConvertAll(b => b!),
            MinKairoVersion = minKairo,
            Runtime = new RuntimeRequirement(onnxRuntime),
            Signature = new ModelSignature(inputs, outputs),
            Tolerance = new Tolerance(atol, rtol),
            LatencyBudgetMs = budget,
            Expires = expires,
            Created = created,
            Files = FileList(d.Files),
        };
    }

    private static string[] SignatureLines(List<string?>? lines, string field, bool allowEmpty)
    {
        if (lines is null)
        {
            throw Invalid(Missing($"signature.{field}", "[\"x: float[1,4]\"]"));
        }

        if (lines.Count == 0 && !allowEmpty)
        {
            throw Invalid($"\"signature.{field}\" is empty; a model has at least one output");
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (string? line in lines)
        {
            TensorSignature? tensor = TensorSignature.TryParse(line);
            if (tensor is null)
            {
                throw Invalid($"\"signature.{field}\" holds {Quote(line)}; each is NAME: TYPE[DIMS] as ONNX Runtime prints it, e.g. \"camera: float[1,3,66,200]\"");
            }

            if (!names.Add(tensor.Name))
            {
                throw Invalid($"\"signature.{field}\" names '{tensor.Name}' twice");
            }
        }

        return lines.Select(l => l!).ToArray(); // every line parsed, so none is null
    }

    private static PackageFile[] FileList(List<FileDocument?>? files)
    {
        if (files is null)
        {
            throw Invalid(Missing("files", "[{ \"path\": \"model.onnx\", \"sha256\": \"...\", \"length\": 578 }]"));
        }

        if (files.Count > MaxFiles)
        {
            throw Invalid($"\"files\" lists {files.Count} files, more than the {MaxFiles} a package may hold");
        }

        var list = new PackageFile[files.Count];
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var directories = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < files.Count; i++)
        {
            string where = $"\"files[{i}]\"";
            FileDocument file = files[i] ?? throw Invalid($"{where} is null; each file is {{ path, sha256, length }}");
            string path = file.Path ?? throw Invalid(Missing($"files[{i}].path", "\"model.onnx\""));
            if (PackagePaths.Problem(path) is { } problem)
            {
                throw Invalid($"{where} path \"{path}\" is refused: {problem}");
            }

            // Case-insensitive, so that a package unpacks to the same files on every file system.
            if (!seen.Add(path))
            {
                throw Invalid($"{where} path \"{path}\" is listed twice (names differing only in case count as the same); list each file once");
            }

            string sha256 = file.Sha256 ?? throw Invalid(Missing($"files[{i}].sha256", "64 lowercase hex digits"));
            if (!IsSha256(sha256))
            {
                throw Invalid($"{where} sha256 \"{sha256}\" for {path} is not 64 lowercase hex digits");
            }

            long length = file.Length ?? throw Invalid(Missing($"files[{i}].length", "the file's size in bytes"));
            if (length < 0)
            {
                throw Invalid($"{where} length {length} for {path} is negative");
            }

            for (int slash = path.IndexOf('/'); slash >= 0; slash = path.IndexOf('/', slash + 1))
            {
                directories.Add(path[..slash]);
            }

            list[i] = new PackageFile(path, sha256, length);
        }

        foreach (PackageFile file in list)
        {
            if (directories.Contains(file.Path))
            {
                throw Invalid($"\"files\" lists \"{file.Path}\" both as a file and as a directory of other files");
            }
        }

        if (!list.Any(f => f.Path == PackagePaths.Model))
        {
            throw Invalid($"\"files\" does not list {PackagePaths.Model}; every package holds its model as {PackagePaths.Model}");
        }

        return list;
    }

    private static double NonNegative(double? value, string field)
    {
        double number = value ?? throw Invalid(Missing(field, "0.001"));
        if (!(number >= 0) || double.IsInfinity(number))
        {
            throw Invalid($"\"{field}\" is {number.ToString(CultureInfo.InvariantCulture)}; a tolerance is a finite number >= 0, e.g. 0.001");
        }

        return number;
    }

    private static DateTimeOffset Timestamp(string? text, string field) =>
        UtcTimestamp.TryParse(text ?? throw Invalid(Missing(field, "\"2026-01-31T00:00:00Z\""))) is { } instant
            ? instant
            : throw Invalid($"\"{field}\" is \"{text}\"; give an ISO-8601 UTC time like \"2026-01-31T00:00:00Z\"");

    internal static bool IsName(string name) =>
        name.Length is > 0 and <= MaxNameLength && char.IsAsciiLetterOrDigit(name[0])
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    internal static bool IsSha256(string hex) => hex.Length == 64 && hex.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f');

    private static string Missing(string field, string example) => $"\"{field}\" is missing; for example \"{field.Split('.')[^1]}\": {example}";

    private static string Quote(string? text) => text is null ? "null" : $"\"{text}\"";

    private static UpdateException Invalid(string message) => new(UpdateFailure.ManifestInvalid, "manifest.json: " + message);
}

/// <summary>The manifest's instants: ISO-8601 in UTC with a Z, written to the second (<c>2026-01-31T00:00:00Z</c>).</summary>
internal static class UtcTimestamp
{
    private static readonly string[] Formats = ["yyyy-MM-dd'T'HH:mm:ss'Z'", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'"];

    public static string Format(DateTimeOffset instant) =>
        instant.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    public static DateTimeOffset? TryParse(string? text) =>
        DateTimeOffset.TryParseExact(text, Formats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var instant)
            ? instant
            : null;
}
