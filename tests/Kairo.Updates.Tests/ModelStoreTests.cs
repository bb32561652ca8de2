using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text.Json;
using Kairo.Updates.Device;
using Kairo.Updates.Packages;

namespace Kairo.Updates.Tests;

/// <summary>The model store on a real directory, fed real package archives: staging, commits, rollbacks, clean-up.</summary>
public sealed class ModelStoreTests : IClassFixture<ModelStoreTests.Archives>, IDisposable
{
    private readonly ScratchDirectory _scratch = new();
    private readonly Archives _archives;

    public ModelStoreTests(Archives archives) => _archives = archives;

    public void Dispose() => _scratch.Dispose();

    private string StoreDirectory => _scratch.Combine("store");

    private string PackagesDirectory => _scratch.Combine("store", "packages");

    private string TmpDirectory => _scratch.Combine("store", "tmp");

    [Fact]
    public void StagingPutsExactlyThePackageFilesUnderTheSha256OfItsManifest()
    {
        var store = new ModelStore(StoreDirectory);
        Archives.Package package = _archives[1];

        string digest = store.Stage(package.Archive);

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(package.Directory, PackagePaths.Manifest)))), digest);
        Assert.Equal(package.Digest, digest);
        Assert.Equal(Path.Combine(PackagesDirectory, digest), store.PathOf(digest));
        Assert.True(store.Contains(digest));
        Assert.Equal(RelativeFiles(package.Directory), RelativeFiles(store.PathOf(digest)));
        foreach (string file in RelativeFiles(package.Directory))
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(package.Directory, file)), File.ReadAllBytes(Path.Combine(store.PathOf(digest), file)));
        }

        Assert.Equal([digest], Names(PackagesDirectory));
        Assert.Empty(Names(TmpDirectory));
        Assert.True(Packages.Verifier().Verify(store.PathOf(digest)).Passed);
    }

    [Fact]
    public void StagingTheSamePackageTwiceExtractsItOnce()
    {
        var store = new ModelStore(StoreDirectory);
        string first = store.Stage(_archives[1].Archive);
        string model = Path.Combine(store.PathOf(first), PackagePaths.Model);
        DateTime written = File.GetLastWriteTimeUtc(model);
        int hooks = 0;

        string second = new ModelStore(StoreDirectory).Stage(_archives[1].Archive, () => hooks++);

        Assert.Equal(first, second);
        Assert.Equal(0, hooks);
        Assert.Equal(written, File.GetLastWriteTimeUtc(model));
        Assert.Equal([first], Names(PackagesDirectory));
        Assert.Empty(Names(TmpDirectory));
    }

    [Fact]
    public void AfterFirstFileRunsOnceWithTheFirstFileWrittenAndBeforeTheRename()
    {
        var store = new ModelStore(StoreDirectory);
        string digest = _archives[1].Digest;
        var seen = new List<string>();

        store.Stage(_archives[1].Archive, () =>
        {
            Assert.False(Directory.Exists(Path.Combine(PackagesDirectory, digest)), "the package is in packages/ before it is whole");
            string staging = Assert.Single(Directory.GetDirectories(TmpDirectory));
            Assert.StartsWith(digest + "-", Path.GetFileName(staging));
            seen.AddRange(RelativeFiles(staging));
        });

        Assert.Equal([PackagePaths.Manifest], seen);
        Assert.True(store.Contains(digest));
    }

    [Fact]
    public void AnExceptionFromAfterFirstFilePropagatesAndLeavesNothingBehind()
    {
        var store = new ModelStore(StoreDirectory);
        var crash = new ArgumentException("power cut"); // an ArgumentException is what Extract would turn into package_invalid

        var thrown = Assert.Throws<ArgumentException>(() => store.Stage(_archives[1].Archive, () => throw crash));

        Assert.Same(crash, thrown);
        Assert.False(store.Contains(_archives[1].Digest));
        Assert.Empty(Names(PackagesDirectory));
        Assert.Empty(Names(TmpDirectory));
    }

    [Fact]
    public void ACancelledStageLeavesNothingBehind()
    {
        var store = new ModelStore(StoreDirectory);
        using var cancellation = new CancellationTokenSource();

        Assert.ThrowsAny<OperationCanceledException>(() => store.Stage(_archives[1].Archive, cancellation.Cancel, cancellation.Token));

        Assert.Empty(Names(PackagesDirectory));
        Assert.Empty(Names(TmpDirectory));
    }

    [Fact]
    public void AStageInterruptedByACrashIsRemovedByTheNextStageAndNeverAppearsAsAPackage()
    {
        string digest = _archives[1].Digest;
        string leftover = CrashedStage(digest);

        string staged = new ModelStore(StoreDirectory).Stage(_archives[1].Archive);

        Assert.Equal(digest, staged);
        Assert.False(Directory.Exists(leftover));
        Assert.Equal([digest], Names(PackagesDirectory));
        Assert.Empty(Names(TmpDirectory));
        Assert.Equal(RelativeFiles(_archives[1].Directory), RelativeFiles(Path.Combine(PackagesDirectory, digest)));
    }

    [Fact]
    public void AStageInterruptedByACrashIsRemovedByCleanup()
    {
        string leftover = CrashedStage(_archives[2].Digest);
        var store = new ModelStore(StoreDirectory);

        Assert.False(store.Contains(_archives[2].Digest));
        store.Cleanup();

        Assert.False(Directory.Exists(leftover));
        Assert.Empty(Names(PackagesDirectory));
        Assert.Empty(Names(TmpDirectory));
    }

    [Fact]
    public void AnArchiveCutInsideAFileIsPackageInvalidAndStoresNothing()
    {
        string archive = _scratch.Combine("truncated.kpkg");
        long cut;
        using (var reader = new TarReader(File.OpenRead(_archives[1].Archive)))
        {
            TarEntry entry;
            while ((entry = reader.GetNextEntry()!).Name != PackagePaths.Model)
            {
            }

            cut = entry.DataOffset + (entry.Length / 2);
        }

        File.WriteAllBytes(archive, File.ReadAllBytes(_archives[1].Archive)[..(int)cut]);
        var store = new ModelStore(StoreDirectory);

        var ex = Assert.Throws<UpdateException>(() => store.Stage(archive));

        Assert.Equal(UpdateFailure.PackageInvalid, ex.Failure);
        Assert.Contains(archive, ex.Message);
        Assert.Empty(Names(PackagesDirectory));
        Assert.Empty(Names(TmpDirectory));
    }

    [Fact]
    public void AnArchiveCutBetweenEntriesIsRefusedSoThatTheWholeOneStagesLater()
    {
        // Cut after signatures.json: a well-formed tar that simply ends early.
        string archive = _scratch.Combine("cut.kpkg");
        using (var stream = File.Create(archive))
        using (var writer = new TarWriter(stream, TarEntryFormat.Ustar))
        {
            writer.WriteEntry(Path.Combine(_archives[1].Directory, PackagePaths.Manifest), PackagePaths.Manifest);
            writer.WriteEntry(Path.Combine(_archives[1].Directory, PackagePaths.Signatures), PackagePaths.Signatures);
        }

        var store = new ModelStore(StoreDirectory);

        var ex = Assert.Throws<UpdateException>(() => store.Stage(archive));

        Assert.Equal(UpdateFailure.FileMissing, ex.Failure);
        Assert.Contains(PackagePaths.Model, ex.Message);
        Assert.Empty(Names(PackagesDirectory));
        Assert.Empty(Names(TmpDirectory));
        Assert.Equal(_archives[1].Digest, store.Stage(_archives[1].Archive));
        Assert.Equal(RelativeFiles(_archives[1].Directory), RelativeFiles(store.PathOf(_archives[1].Digest)));
    }

    [Fact]
    public void AnArchiveWithAFileOtherThanSignedIsRefused()
    {
        string archive = _scratch.Combine("tampered.kpkg");
        File.Copy(_archives[1].Archive, archive);
        using (var reader = new TarReader(File.OpenRead(_archives[1].Archive)))
        {
            TarEntry entry;
            while ((entry = reader.GetNextEntry()!).Name != PackagePaths.Model)
            {
            }

            Packages.FlipByte(archive, entry.DataOffset + 10);
        }

        var ex = Assert.Throws<UpdateException>(() => new ModelStore(StoreDirectory).Stage(archive));

        Assert.Equal(UpdateFailure.FileHash, ex.Failure);
        Assert.Empty(Names(PackagesDirectory));
        Assert.Empty(Names(TmpDirectory));
    }

    [Fact]
    public void AnArchiveWithALinkIsPackageInvalidAndStoresNothing()
    {
        string archive = _scratch.Combine("link.kpkg");
        using (var stream = File.Create(archive))
        using (var writer = new TarWriter(stream, TarEntryFormat.Ustar))
        {
            writer.WriteEntry(Path.Combine(_archives[1].Directory, PackagePaths.Manifest), PackagePaths.Manifest);
            writer.WriteEntry(new UstarTarEntry(TarEntryType.SymbolicLink, PackagePaths.Model) { LinkName = "/etc/passwd" });
        }

        var ex = Assert.Throws<UpdateException>(() => new ModelStore(StoreDirectory).Stage(archive));

        Assert.Equal(UpdateFailure.PackageInvalid, ex.Failure);
        Assert.Contains("SymbolicLink", ex.Message);
        Assert.Empty(Names(PackagesDirectory));
        Assert.Empty(Names(TmpDirectory));
    }

    [Fact]
    public void AnArchiveThatDoesNotStartWithTheManifestIsPackageInvalid()
    {
        string archive = _scratch.Combine("model-first.kpkg");
        using (var stream = File.Create(archive))
        using (var writer = new TarWriter(stream, TarEntryFormat.Ustar))
        {
            writer.WriteEntry(Path.Combine(_archives[1].Directory, PackagePaths.Model), PackagePaths.Model);
            writer.WriteEntry(Path.Combine(_archives[1].Directory, PackagePaths.Manifest), PackagePaths.Manifest);
        }

        var ex = Assert.Throws<UpdateException>(() => new ModelStore(StoreDirectory).Stage(archive));

        Assert.Equal(UpdateFailure.PackageInvalid, ex.Failure);
        Assert.Contains("first entry is 'model.onnx'", ex.Message);
        Assert.Empty(Names(PackagesDirectory));
    }

    [Fact]
    public void AnArchiveThatCannotBeReadIsStoreFailedNamingIt()
    {
        string missing = _scratch.Combine("gone.kpkg");

        var ex = Assert.Throws<UpdateException>(() => new ModelStore(StoreDirectory).Stage(missing));

        Assert.Equal(UpdateFailure.StoreFailed, ex.Failure);
        Assert.Contains(missing, ex.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void CommitsKeepTheActiveTheRollbackTargetAndKeepOlderMore(int keepOlder)
    {
        var store = new ModelStore(StoreDirectory, keepOlder);

        for (int version = 1; version <= 4; version++)
        {
            store.Commit("scale_add", Stage(store, version));
        }

        InstalledModel installed = store.Find("scale_add")!;
        Assert.Equal(4, installed.Active!.Version);
        Assert.Equal(3, installed.Previous!.Version);
        Assert.Equal(new long[] { 2, 1 }.Take(keepOlder), installed.Older.Select(v => v.Version));
        Assert.Equal(4, installed.HighestVersion);
        string[] kept = [.. new[] { 4, 3, 2, 1 }.Take(2 + keepOlder).Select(v => _archives[v].Digest)];
        Assert.Equal(kept.Order(), Names(PackagesDirectory));
        Assert.Empty(Names(TmpDirectory));
    }

    [Fact]
    public void RollBackMakesThePreviousActiveAndLeavesNoRollbackTarget()
    {
        var store = new ModelStore(StoreDirectory, keepOlder: 1);
        for (int version = 1; version <= 3; version++)
        {
            store.Commit("scale_add", Stage(store, version));
        }

        Assert.True(store.RollBack("scale_add"));

        InstalledModel installed = store.Find("scale_add")!;
        Assert.Equal(2, installed.Active!.Version);
        Assert.Null(installed.Previous);
        Assert.Equal([3L], installed.Older.Select(v => v.Version));
        Assert.Equal(3, installed.HighestVersion);
        Assert.Equal(new[] { _archives[2].Digest, _archives[3].Digest }.Order(), Names(PackagesDirectory));
        Assert.False(store.RollBack("scale_add"));
        Assert.False(store.RollBack("never_installed"));
    }

    [Fact]
    public void TheHighestVersionSurvivesARestartACleanupAndARollback()
    {
        var store = new ModelStore(StoreDirectory);
        store.Commit("scale_add", Stage(store, 1));
        store.Commit("scale_add", Stage(store, 2));

        var restarted = new ModelStore(StoreDirectory);
        Assert.Equal(2, restarted.Find("scale_add")!.HighestVersion);
        restarted.Cleanup();
        Assert.True(restarted.RollBack("scale_add"));

        InstalledModel installed = new ModelStore(StoreDirectory).Find("scale_add")!;
        Assert.Equal(1, installed.Active!.Version);
        Assert.Equal(2, installed.HighestVersion);
        Assert.True(restarted.Contains(_archives[1].Digest));
    }

    [Fact]
    public void CommittingTheActivePackageAgainChangesNothing()
    {
        var store = new ModelStore(StoreDirectory);
        store.Commit("scale_add", Stage(store, 1));
        InstalledVersion two = Stage(store, 2);
        store.Commit("scale_add", two);
        byte[] before = File.ReadAllBytes(store.InstalledPath);

        store.Commit("scale_add", two);

        Assert.Equal(before, File.ReadAllBytes(store.InstalledPath));
        InstalledModel installed = store.Find("scale_add")!;
        Assert.Equal(two, installed.Active);
        Assert.Equal(1, installed.Previous!.Version);
    }

    [Fact]
    public void CommittingAnOlderKeptPackageMovesItOutOfTheOlderOnes()
    {
        var store = new ModelStore(StoreDirectory, keepOlder: 2);
        for (int version = 1; version <= 3; version++)
        {
            store.Commit("scale_add", Stage(store, version));
        }

        store.Commit("scale_add", Version(1));

        InstalledModel installed = store.Find("scale_add")!;
        Assert.Equal(1, installed.Active!.Version);
        Assert.Equal(3, installed.Previous!.Version);
        Assert.Equal([2L], installed.Older.Select(v => v.Version));
        Assert.Equal(3, installed.HighestVersion);
    }

    [Fact]
    public void DeactivateLeavesNoActiveVersionAndKeepsTheHighest()
    {
        var store = new ModelStore(StoreDirectory, keepOlder: 1);
        store.Commit("scale_add", Stage(store, 1));

        Assert.True(store.Deactivate("scale_add"));

        InstalledModel installed = store.Find("scale_add")!;
        Assert.Null(installed.Active);
        Assert.Null(installed.Previous);
        Assert.Equal([1L], installed.Older.Select(v => v.Version));
        Assert.Equal(1, installed.HighestVersion);
        Assert.False(store.Deactivate("scale_add"));
    }

    [Fact]
    public void InstalledJsonIsWrittenAtomicallyInItsDocumentedShape()
    {
        var store = new ModelStore(StoreDirectory);
        store.Commit("scale_add", Stage(store, 1));
        store.Commit("scale_add", Stage(store, 2));

        using JsonDocument json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(StoreDirectory, ModelStore.InstalledFileName)));
        JsonElement model = json.RootElement.GetProperty("models").GetProperty("scale_add");
        Assert.Equal(1, json.RootElement.GetProperty("schema").GetInt32());
        Assert.Equal(_archives[2].Digest, model.GetProperty("active").GetProperty("digest").GetString());
        Assert.Equal(2, model.GetProperty("active").GetProperty("version").GetInt64());
        Assert.Equal("1", model.GetProperty("previous").GetProperty("release").GetString());
        Assert.Equal(0, model.GetProperty("older").GetArrayLength());
        Assert.Equal(2, model.GetProperty("highestVersion").GetInt64());
        Assert.DoesNotContain(Names(StoreDirectory), n => n.Contains(DurableFile.TemporaryInfix));
    }

    [Fact]
    public void AnUnparseableInstalledJsonIsReportedAndNothingIsForgottenOrRemoved()
    {
        var store = new ModelStore(StoreDirectory);
        store.Commit("scale_add", Stage(store, 1));
        store.Commit("scale_add", Stage(store, 2));
        string installed = Path.Combine(StoreDirectory, ModelStore.InstalledFileName);
        File.WriteAllText(installed, "{\"schema\": 1, \"models\": {\"scale_add\": {\"active\": ");

        var restarted = new ModelStore(StoreDirectory);
        var find = Assert.Throws<InvalidDataException>(() => restarted.Find("scale_add"));
        Assert.Throws<InvalidDataException>(restarted.Cleanup);
        Assert.Throws<InvalidDataException>(() => restarted.Commit("scale_add", Version(1)));

        Assert.Contains(installed, find.Message);
        Assert.Contains("delete it", find.Message);
        Assert.Equal(new[] { _archives[1].Digest, _archives[2].Digest }.Order(), Names(PackagesDirectory));
        Assert.StartsWith("{\"schema\": 1", File.ReadAllText(installed));
    }

    [Fact]
    public void AnInstalledJsonWithABadMemberNamesTheMember()
    {
        Directory.CreateDirectory(StoreDirectory);
        File.WriteAllText(Path.Combine(StoreDirectory, ModelStore.InstalledFileName),
            """{ "schema": 1, "models": { "scale_add": { "active": { "version": 2, "release": "2", "digest": "../../etc" }, "older": [], "highestVersion": 2 } } }""");

        var ex = Assert.Throws<InvalidDataException>(() => new ModelStore(StoreDirectory).Find("scale_add"));

        Assert.Contains("models.scale_add.active.digest is '../../etc'", ex.Message);
    }

    [Fact]
    public void AnInstalledJsonOfANewerSchemaIsRefused()
    {
        Directory.CreateDirectory(StoreDirectory);
        File.WriteAllText(Path.Combine(StoreDirectory, ModelStore.InstalledFileName), """{ "schema": 2, "models": {} }""");

        var ex = Assert.Throws<InvalidDataException>(() => new ModelStore(StoreDirectory).Find("scale_add"));

        Assert.Contains("schema 2, written by a newer Kairo", ex.Message);
    }

    [Fact]
    public void AMissingInstalledJsonIsAnEmptyStore()
    {
        var store = new ModelStore(StoreDirectory);

        Assert.Null(store.Find("scale_add"));
        Assert.False(store.RollBack("scale_add"));
        Assert.False(File.Exists(store.InstalledPath));
    }

    [Fact]
    public void CommittingAPackageThatIsNotStoredIsRefused()
    {
        var store = new ModelStore(StoreDirectory);

        var ex = Assert.Throws<ArgumentException>(() => store.Commit("scale_add", Version(1)));

        Assert.Contains("stage it first", ex.Message);
        Assert.Null(store.Find("scale_add"));
    }

    [Fact]
    public void AStagedPackageOutlivesAnotherCommitUntilTheNextStart()
    {
        var store = new ModelStore(StoreDirectory);
        InstalledVersion one = Stage(store, 1);
        InstalledVersion two = Stage(store, 2); // another model's update, between its stage and its commit

        store.Commit("scale_add", one);
        Assert.True(store.Contains(two.Digest));

        new ModelStore(StoreDirectory).Cleanup();
        Assert.False(store.Contains(two.Digest));
        Assert.True(store.Contains(one.Digest));
    }

    [Fact]
    public void CleanupsRunningTogetherRemoveEachDirectoryOnceWithoutFailing()
    {
        var store = new ModelStore(StoreDirectory);
        string kept = Stage(store, 1).Digest;
        store.Commit("scale_add", Version(1));
        for (int i = 0; i < 16; i++)
        {
            CopyDirectory(store.PathOf(kept), Path.Combine(PackagesDirectory, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32))));
        }

        var stores = Enumerable.Range(0, 4).Select(_ => new ModelStore(StoreDirectory)).Append(store).ToArray();
        Parallel.For(0, 16, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => stores[i % stores.Length].Cleanup());

        Assert.Equal([kept], Names(PackagesDirectory));
        Assert.Empty(Names(TmpDirectory));
    }

    [Fact]
    public void PathOfRefusesWhatIsNoDigest()
    {
        var store = new ModelStore(StoreDirectory);

        var ex = Assert.Throws<ArgumentException>(() => store.PathOf("../installed.json"));

        Assert.Contains("64 lowercase hex digits", ex.Message);
        Assert.False(store.Contains("../installed.json"));
    }

    private InstalledVersion Stage(ModelStore store, int version)
    {
        Assert.Equal(_archives[version].Digest, store.Stage(_archives[version].Archive));
        return Version(version);
    }

    private InstalledVersion Version(int version) => new(version, version.ToString(), _archives[version].Digest);

    /// <summary>What a power cut during extraction leaves: tmp/{digest}-{random}/ holding the first file.</summary>
    private string CrashedStage(string digest)
    {
        string leftover = Path.Combine(TmpDirectory, $"{digest}-0badc0ffee00");
        Directory.CreateDirectory(Path.Combine(leftover, "test_data_set_0"));
        File.Copy(Path.Combine(_archives[1].Directory, PackagePaths.Manifest), Path.Combine(leftover, PackagePaths.Manifest));
        Directory.CreateDirectory(PackagesDirectory);
        return leftover;
    }

    private static string[] Names(string directory) =>
        Directory.Exists(directory) ? [.. Directory.EnumerateFileSystemEntries(directory).Select(p => Path.GetFileName(p)).Order(StringComparer.Ordinal)] : [];

    private static string[] RelativeFiles(string directory) =>
        [.. Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(directory, f)).Order(StringComparer.Ordinal)];

    private static void CopyDirectory(string source, string destination)
    {
        foreach (string file in RelativeFiles(source))
        {
            string target = Path.Combine(destination, file);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(Path.Combine(source, file), target);
        }
    }

    /// <summary>Four versions of a real package (scale_add v1..v4) and their archives, made once for the class.</summary>
    public sealed class Archives : IDisposable
    {
        private readonly ScratchDirectory _scratch = new();
        private readonly Package[] _packages;

        public Archives()
        {
            _packages = [.. Enumerable.Range(1, 4).Select(version =>
            {
                string directory = _scratch.Combine($"scale_add-v{version}");
                Packages.Make(directory, Packages.Options(version: version) with { Release = version.ToString() }, Keys.Alice, Keys.Bob);
                string archive = _scratch.Combine(PackagePaths.ArchiveName("scale_add", version));
                PackageArchive.Write(directory, archive);
                string digest = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(directory, PackagePaths.Manifest))));
                return new Package(directory, archive, digest);
            })];
        }

        public Package this[int version] => _packages[version - 1];

        public void Dispose() => _scratch.Dispose();

        public sealed record Package(string Directory, string Archive, string Digest);
    }
}

/// <summary>DurableFile's atomic replacement and directory fsync, which the store and the journal rest on.</summary>
public sealed class ModelStoreDurableFileTests : IDisposable
{
    private readonly ScratchDirectory _scratch = new();

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void WriteAtomicallyReplacesTheFileByRenameAndLeavesNoTemporary()
    {
        string path = _scratch.Combine("state.json");
        DurableFile.WriteAtomically(path, "old"u8);
        using var before = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);

        DurableFile.WriteAtomically(path, "new"u8);

        // A reader that opened the old file still reads it whole: the new bytes went to another inode.
        using (var reader = new StreamReader(before))
        {
            Assert.Equal("old", reader.ReadToEnd());
        }

        Assert.Equal("new", File.ReadAllText(path));
        Assert.Equal(["state.json"], Directory.GetFiles(_scratch.Path).Select(p => Path.GetFileName(p)));
    }

    [Fact]
    public void FsyncOfAMissingDirectoryNamesIt()
    {
        string missing = _scratch.Combine("nowhere");

        var ex = Assert.Throws<DirectoryNotFoundException>(() => DurableFile.FsyncDirectory(missing));

        Assert.Contains(missing, ex.Message);
    }

    [Fact]
    public void FsyncOfAFileAsADirectoryIsRefused()
    {
        string file = _scratch.Combine("file");
        File.WriteAllText(file, "x");

        var ex = Assert.Throws<IOException>(() => DurableFile.FsyncDirectory(file));

        Assert.Contains("Not a directory", ex.Message);
        DurableFile.FsyncFile(file);
        DurableFile.FsyncDirectory(_scratch.Path);
    }
}
