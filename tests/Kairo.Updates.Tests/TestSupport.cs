using System.Diagnostics;
using Kairo.Onnx;
using Kairo.Onnx.TestData;
using Kairo.Updates.Packages;
using Kairo.Updates.Signing;

// Kairo runs on Linux boards; the tests check Unix file modes and symbolic links.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace Kairo.Updates.Tests;

/// <summary>Paths into the repository the tests run from, and the library loaded once for all of them.</summary>
internal static class Repo
{
    public static string Root { get; } = FindRoot();

    public static string Model(string file) => Path.Combine(Root, "models", file);

    public static void LoadOnnxRuntime() => OnnxRuntimeLibrary.Load();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Kairo.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no Kairo.sln above {AppContext.BaseDirectory}");
    }
}

/// <summary>A temporary directory, removed with everything in it.</summary>
internal sealed class ScratchDirectory : IDisposable
{
    public ScratchDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"kairo-updates-test-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>A clock stopped at one instant, for expiry.</summary>
internal sealed class FixedClock(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}

/// <summary>Signing keys made once per test run: two trusted (alice, bob) and one no device trusts (mallory).</summary>
internal static class Keys
{
    public static SigningKey Alice { get; } = SigningKey.Generate();

    public static SigningKey Bob { get; } = SigningKey.Generate();

    public static SigningKey Mallory { get; } = SigningKey.Generate();

    public static TrustedKey[] Trusted => [Alice.PublicKey, Bob.PublicKey];
}

/// <summary>Real packages of the repository's models, made, signed and changed the way an attacker or an accident would.</summary>
internal static class Packages
{
    public static readonly DateTimeOffset Created = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary>A clock inside every test package's life.</summary>
    public static FixedClock During { get; } = new(Created.AddDays(1));

    public static PackageBuildOptions Options(string model = "scale_add_v1.onnx", string name = "scale_add", long version = 1) => new()
    {
        ModelPath = Repo.Model(model),
        Name = name,
        Version = version,
        MinKairoVersion = "0.1.0",
        GenerateCount = 3,
        Seed = 42,
        Clock = new FixedClock(Created),
        Expires = Created.AddDays(30),
        LatencyBudgetMs = 1000,
    };

    /// <summary>Packs <paramref name="options"/> into <paramref name="directory"/> and signs it with <paramref name="signers"/>.</summary>
    public static PackageManifest Make(string directory, PackageBuildOptions options, params SigningKey[] signers)
    {
        Repo.LoadOnnxRuntime();
        PackageManifest manifest = PackageBuilder.Build(options, directory).Manifest;
        foreach (SigningKey key in signers)
        {
            PackageSigner.Sign(directory, key);
        }

        return manifest;
    }

    public static PackageManifest Make(string directory, params SigningKey[] signers) => Make(directory, Options(), signers);

    public static PackageVerifier Verifier(int threshold = 2, TimeProvider? clock = null) => new(Keys.Trusted, threshold, clock ?? During);

    public static PackageManifest ReadManifest(string directory) =>
        PackageManifest.Parse(File.ReadAllBytes(Path.Combine(directory, PackagePaths.Manifest)));

    /// <summary>Writes a new manifest.json and signs it afresh: what a publisher (or an attacker holding the keys) does.</summary>
    public static void Republish(string directory, PackageManifest manifest, params SigningKey[] signers)
    {
        File.WriteAllBytes(Path.Combine(directory, PackagePaths.Manifest), manifest.ToUtf8Json());
        File.Delete(Path.Combine(directory, PackagePaths.Signatures));
        foreach (SigningKey key in signers)
        {
            PackageSigner.Sign(directory, key);
        }
    }

    /// <summary>Flips every bit of one byte of a file.</summary>
    public static void FlipByte(string path, long offset)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        stream.Position = offset;
        int value = stream.ReadByte();
        stream.Position = offset;
        stream.WriteByte((byte)~value);
    }
}

/// <summary>Runs the kairoctl built from the sources under test (the JIT build of the solution).</summary>
internal static class Kairoctl
{
    private static readonly Lazy<string> s_dll = new(Locate);

    public static (int ExitCode, string Output) Run(string workingDirectory, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        start.ArgumentList.Add(s_dll.Value);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"kairoctl {string.Join(' ', arguments)} did not finish within 120 s");
        }

        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    private static string Locate()
    {
        // tests/Kairo.Updates.Tests/bin/<Configuration>/<tfm>/
        string configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/')).Parent!.Name;
        string directory = Path.Combine(Repo.Root, "src", "kairoctl", "bin", configuration, "net9.0");
        string dll = Path.Combine(directory, "kairoctl.dll");
        string updatesOfCtl = Path.Combine(directory, "Kairo.Updates.dll");
        string updatesUnderTest = Path.Combine(AppContext.BaseDirectory, "Kairo.Updates.dll");
        if (!File.Exists(dll) || !File.Exists(updatesOfCtl) || !File.ReadAllBytes(updatesOfCtl).AsSpan().SequenceEqual(File.ReadAllBytes(updatesUnderTest)))
        {
            Assert.Fail($"no kairoctl built from the sources under test at {dll}: build the whole solution (dotnet build Kairo.sln -c {configuration}) first.");
        }

        return dll;
    }
}

internal static class TensorFiles
{
    /// <summary>Adds <paramref name="delta"/> to every float of a TensorProto file.</summary>
    public static void Shift(string path, float delta)
    {
        TensorData tensor = TensorProtoCodec.ReadFile(path);
        float[] values = tensor.AsSpan<float>().ToArray();
        for (int i = 0; i < values.Length; i++)
        {
            values[i] += delta;
        }

        TensorProtoCodec.WriteFile(path, TensorData.FromSpan<float>(values, tensor.Dims, tensor.Name));
    }
}
