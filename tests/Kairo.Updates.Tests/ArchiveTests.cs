using System.Formats.Tar;
using Kairo.Updates.Packages;

namespace Kairo.Updates.Tests;

/// <summary>.kpkg archives: the same package in one tar, and the entries extraction refuses.</summary>
public sealed class ArchiveTests : IDisposable
{
    private readonly ScratchDirectory _scratch = new();

    public ArchiveTests() => Repo.LoadOnnxRuntime();

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void AnArchiveExtractsToAPackageThatVerifies()
    {
        string directory = _scratch.Combine("pkg");
        Packages.Make(directory, Keys.Alice, Keys.Bob);
        string archive = _scratch.Combine("scale_add-v1.kpkg");

        PackageArchive.Write(directory, archive);
        PackageArchive.Extract(archive, _scratch.Combine("out"));

        Assert.True(PackageArchive.IsArchive(archive));
        Assert.True(Packages.Verifier().Verify(_scratch.Combine("out")).Passed);
        using var reader = new TarReader(File.OpenRead(archive));
        Assert.Equal(PackagePaths.Manifest, reader.GetNextEntry()!.Name);
        Assert.Equal(PackagePaths.Signatures, reader.GetNextEntry()!.Name);
        Assert.Equal(PackagePaths.Model, reader.GetNextEntry()!.Name);
    }

    [Fact]
    public void TheSamePackageGivesTheSameArchiveBytes()
    {
        string directory = _scratch.Combine("pkg");
        Packages.Make(directory, Keys.Alice);

        PackageArchive.Write(directory, _scratch.Combine("a.kpkg"));
        PackageArchive.Write(directory, _scratch.Combine("b.kpkg"));

        Assert.Equal(File.ReadAllBytes(_scratch.Combine("a.kpkg")), File.ReadAllBytes(_scratch.Combine("b.kpkg")));
    }

    [Fact]
    public void BuildingWithAnArchiveWritesItNextToTheDirectory()
    {
        PackageBuildResult result = PackageBuilder.Build(Packages.Options(version: 7), _scratch.Combine("pkg"), writeArchive: true);

        Assert.Equal(_scratch.Combine("scale_add-v7.kpkg"), result.ArchivePath);
        Assert.True(File.Exists(result.ArchivePath));
    }

    [Theory]
    [InlineData("../evil.pb")]
    [InlineData("/etc/evil.pb")]
    [InlineData("test_data_set_0/../../evil.pb")]
    public void AnEntryNamedOutsideThePackageIsPackageInvalid(string name)
    {
        string archive = Tar(w => w.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream([1, 2, 3]) }));

        var ex = Assert.Throws<UpdateException>(() => PackageArchive.Extract(archive, _scratch.Combine("out")));

        Assert.Equal(UpdateFailure.PackageInvalid, ex.Failure);
        Assert.False(File.Exists(_scratch.Combine("evil.pb")));
        Assert.False(File.Exists("/etc/evil.pb"));
    }

    [Theory]
    [InlineData(TarEntryType.SymbolicLink)]
    [InlineData(TarEntryType.HardLink)]
    [InlineData(TarEntryType.Fifo)]
    public void AnEntryThatIsNotAFileOrDirectoryIsPackageInvalid(TarEntryType type)
    {
        string archive = Tar(w =>
        {
            var entry = new UstarTarEntry(type, "model.onnx");
            if (type is TarEntryType.SymbolicLink or TarEntryType.HardLink)
            {
                entry.LinkName = "/etc/passwd";
            }

            w.WriteEntry(entry);
        });

        var ex = Assert.Throws<UpdateException>(() => PackageArchive.Extract(archive, _scratch.Combine("out")));

        Assert.Equal(UpdateFailure.PackageInvalid, ex.Failure);
        Assert.Contains(type.ToString(), ex.Message);
    }

    [Fact]
    public void AnEntryGivenTwiceIsPackageInvalid()
    {
        string archive = Tar(w =>
        {
            w.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, "model.onnx") { DataStream = new MemoryStream([1]) });
            w.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, "model.onnx") { DataStream = new MemoryStream([2]) });
        });

        var ex = Assert.Throws<UpdateException>(() => PackageArchive.Extract(archive, _scratch.Combine("out")));

        Assert.Contains("appears twice", ex.Message);
    }

    [Fact]
    public void ATruncatedArchiveIsPackageInvalid()
    {
        string directory = _scratch.Combine("pkg");
        Packages.Make(directory, Keys.Alice);
        string archive = _scratch.Combine("pkg.kpkg");
        PackageArchive.Write(directory, archive);
        byte[] bytes = File.ReadAllBytes(archive);
        File.WriteAllBytes(archive, bytes[..1000]);

        var ex = Assert.Throws<UpdateException>(() => PackageArchive.Extract(archive, _scratch.Combine("out")));

        Assert.Equal(UpdateFailure.PackageInvalid, ex.Failure);
    }

    private string Tar(Action<TarWriter> write)
    {
        string path = _scratch.Combine($"{Guid.NewGuid():N}.kpkg");
        using (var stream = File.Create(path))
        using (var writer = new TarWriter(stream, TarEntryFormat.Ustar))
        {
            write(writer);
        }

        return path;
    }
}
