using Kairo.Onnx;
using Kairo.Onnx.TestData;

namespace Kairo.Updates.Packages;

/// <summary>What goes into a new package; see <see cref="PackageBuilder.Build"/>.</summary>
public sealed record PackageBuildOptions
{
    public required string ModelPath { get; init; }

    public required string Name { get; init; }

    public required long Version { get; init; }

    /// <summary>The release name; the version number by default.</summary>
    public string? Release { get; init; }

    public IReadOnlyList<string> CompatibleBoards { get; init; } = [PackageManifest.AnyBoard];

    public required string MinKairoVersion { get; init; }

    /// <summary>The oldest ONNX Runtime allowed; by default the loaded one, which made and checked the golden vectors.</summary>
    public string? MinOnnxRuntimeVersion { get; init; }

    /// <summary>When the package expires; <see cref="PackageBuilder.DefaultLifetime"/> after it is made by default.</summary>
    public DateTimeOffset? Expires { get; init; }

    public Tolerance Tolerance { get; init; } = Tolerance.Default;

    public double LatencyBudgetMs { get; init; } = PackageBuilder.DefaultLatencyBudgetMs;

    /// <summary>A directory holding <c>test_data_set_N</c> directories to copy in.</summary>
    public string? GoldenDirectory { get; init; }

    /// <summary>Golden data sets to make by running the model on seeded random inputs (after any copied ones).</summary>
    public int GenerateCount { get; init; }

    public int Seed { get; init; }

    /// <summary>Sizes for dimensions the model leaves open, by input name, for <see cref="GenerateCount"/>.</summary>
    public IReadOnlyDictionary<string, long[]>? InputShapes { get; init; }

    /// <summary>How the model is loaded to read its signature, make vectors and check them.</summary>
    public SessionOptions? SessionOptions { get; init; }

    /// <summary>The time the package is made at; the system clock by default.</summary>
    public TimeProvider? Clock { get; init; }
}

/// <summary>A package made by <see cref="PackageBuilder.Build"/>: its manifest, where it is, and notes for the operator.</summary>
public sealed record PackageBuildResult(PackageManifest Manifest, string Directory, string? ArchivePath, IReadOnlyList<string> Notes);

/// <summary>
/// Makes unsigned packages: the model as model.onnx, golden vectors copied or generated, checked to pass on this
/// machine, and a manifest listing every file with its length and SHA-256.
/// </summary>
public static class PackageBuilder
{
    public const double DefaultLatencyBudgetMs = 100;

    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromDays(90);

    /// <summary>
    /// Builds the package into <paramref name="outputDirectory"/>, which must not exist or be empty; with
    /// <paramref name="writeArchive"/> also <c>NAME-vVERSION.kpkg</c> next to it. The directory is assembled aside and
    /// moved into place, so it appears complete or not at all. ONNX Runtime must be loaded.
    /// </summary>
    /// <exception cref="UpdateException">The golden vectors do not pass on this machine, or the manifest would break a rule.</exception>
    /// <exception cref="ArgumentException">An option is unusable; the message names it.</exception>
    public static PackageBuildResult Build(PackageBuildOptions options, string outputDirectory, bool writeArchive = false)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(outputDirectory);
        if (!PackageManifest.IsName(options.Name))
        {
            throw new ArgumentException($"name '{options.Name}' is not a model name: 1 to 64 of A-Z a-z 0-9 . _ - starting with a letter or digit, e.g. pilotnet");
        }

        if (options.Version < 1)
        {
            throw new ArgumentException($"version {options.Version} is not >= 1; versions start at 1 and grow with every release");
        }

        if (!File.Exists(options.ModelPath))
        {
            throw new FileNotFoundException($"no such model file: {options.ModelPath}", options.ModelPath);
        }

        if (options.GoldenDirectory is null && options.GenerateCount < 1)
        {
            throw new ArgumentException("a package needs golden vectors: give a directory of test_data_set_N (--golden) or a number of sets to generate (--generate)");
        }

        string target = Path.TrimEndingDirectorySeparator(Path.GetFullPath(outputDirectory));
        if (File.Exists(target) || (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any()))
        {
            throw new IOException($"{outputDirectory} exists and is not an empty directory; give a new --out directory");
        }

        DateTimeOffset now = (options.Clock ?? TimeProvider.System).GetUtcNow();
        DateTimeOffset created = new(now.Ticks - (now.Ticks % TimeSpan.TicksPerSecond), TimeSpan.Zero);
        SessionOptions sessionOptions = options.SessionOptions ?? new SessionOptions { IntraOpThreads = 1, InterOpThreads = 1, LogSeverity = 3 };
        string staging = $"{target}.{Path.GetRandomFileName()}.tmp";
        Directory.CreateDirectory(staging);
        try
        {
            string model = Path.Combine(staging, PackagePaths.Model);
            File.Copy(options.ModelPath, model);
            var notes = new List<string>();
            int sets = options.GoldenDirectory is { } golden ? GoldenVectors.CopyDataSets(golden, staging) : 0;
            if (options.GenerateCount > 0)
            {
                notes.AddRange(GoldenVectors.Generate(model, staging, options.GenerateCount, options.Seed, options.InputShapes, sessionOptions, firstIndex: sets));
            }

            ModelSignature signature;
            using (InferenceSession session = InferenceSession.Open(model, sessionOptions))
            {
                signature = PackageVerifier.SignatureOf(session);
            }

            // A package whose vectors fail where they were made would fail on every device.
            TestCaseResult check = new TestCaseRunner(sessionOptions, options.Tolerance).Run(new TestCase(options.Name, staging));
            if (!check.Passed)
            {
                throw new UpdateException(UpdateFailure.GoldenMismatch, $"the golden vectors do not pass on this machine within {options.Tolerance}: {check.Message}");
            }

            var manifest = new PackageManifest
            {
                Model = options.Name,
                Version = options.Version,
                Release = options.Release ?? options.Version.ToString(System.Globalization.CultureInfo.InvariantCulture),
                CompatibleBoards = options.CompatibleBoards,
                MinKairoVersion = options.MinKairoVersion,
                Runtime = new RuntimeRequirement(options.MinOnnxRuntimeVersion ?? OnnxRuntimeLibrary.Version),
                Signature = signature,
                Tolerance = options.Tolerance,
                LatencyBudgetMs = options.LatencyBudgetMs,
                Expires = options.Expires ?? created + DefaultLifetime,
                Created = created,
                Files = DescribeFiles(staging),
            };
            File.WriteAllBytes(Path.Combine(staging, PackagePaths.Manifest), manifest.ToUtf8Json());

            if (Directory.Exists(target))
            {
                Directory.Delete(target); // empty, checked above
            }

            Directory.Move(staging, target);
            string? archive = null;
            if (writeArchive)
            {
                archive = Path.Combine(Path.GetDirectoryName(target)!, PackagePaths.ArchiveName(manifest.Model, manifest.Version));
                PackageArchive.Write(target, archive);
            }

            return new PackageBuildResult(manifest, target, archive, notes);
        }
        catch
        {
            if (Directory.Exists(staging))
            {
                Directory.Delete(staging, recursive: true);
            }

            throw;
        }
    }

    /// <summary>
    /// Every file under <paramref name="directory"/> but manifest.json and signatures.json, with length and SHA-256,
    /// sorted by path. Refuses links and names a manifest may not list.
    /// </summary>
    public static PackageFile[] DescribeFiles(string directory)
    {
        string root = Path.GetFullPath(directory);
        var files = new List<PackageFile>();
        var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = false };
        foreach (FileSystemInfo entry in new DirectoryInfo(root).EnumerateFileSystemInfos("*", options))
        {
            string relative = Path.GetRelativePath(root, entry.FullName).Replace(Path.DirectorySeparatorChar, '/');
            if (entry.LinkTarget is not null)
            {
                throw new ArgumentException($"{relative} is a symbolic link; a package holds regular files and directories only");
            }

            if (entry is DirectoryInfo || relative is PackagePaths.Manifest or PackagePaths.Signatures)
            {
                continue;
            }

            if (PackagePaths.Problem(relative) is { } problem)
            {
                throw new ArgumentException($"{relative} cannot be part of a package: {problem}");
            }

            (string sha256, long length) = PackageFiles.Describe(entry.FullName);
            files.Add(new PackageFile(relative, sha256, length));
        }

        files.Sort(static (a, b) => string.CompareOrdinal(a.Path, b.Path));
        return [.. files];
    }
}
