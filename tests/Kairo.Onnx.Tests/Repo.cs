namespace Kairo.Onnx.Tests;

/// <summary>Paths into the repository the tests run from, and the library loaded once for all of them.</summary>
internal static class Repo
{
    public static string Root { get; } = FindRoot();

    public static string Models => Path.Combine(Root, "models");

    public static string Model(string file) => Path.Combine(Models, file);

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
