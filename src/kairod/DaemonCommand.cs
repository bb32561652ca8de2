using System.CommandLine;
using System.Reflection;
using Kairo.Onnx;

namespace Kairo.Daemon;

/// <summary>kairod's command line: parses, then hands over to the daemon.</summary>
internal static class DaemonCommand
{
    public static int Run(string[] args)
    {
        var version = new Option<bool>("--version") { Description = "Print the Kairo version, the ONNX Runtime version and its execution providers, then exit." };
        var onnxRuntime = new Option<string?>("--onnxruntime") { Description = "Path of libonnxruntime.so.1 (or its directory) when it is not next to kairod." };
        var root = new RootCommand("kairod: the Kairo edge-AI runtime daemon.");
        root.Options.Remove(root.Options.OfType<VersionOption>().Single()); // ours also names ONNX Runtime and its providers
        root.Options.Add(version);
        root.Options.Add(onnxRuntime);
        root.SetAction(parse =>
        {
            if (parse.GetValue(version))
            {
                return PrintVersion(parse.GetValue(onnxRuntime));
            }

            Console.Error.WriteLine("kairod: nothing to do yet; try --version");
            return 2;
        });
        return root.Parse(args).Invoke();
    }

    internal static string KairoVersion =>
        typeof(DaemonCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "unknown";

    private static int PrintVersion(string? libraryPath)
    {
        Console.WriteLine($"kairod {KairoVersion}");
        try
        {
            OnnxRuntimeLibrary.Load(libraryPath);
            Console.WriteLine($"onnxruntime {OnnxRuntimeLibrary.Version} ({OnnxRuntimeLibrary.LoadedFrom})");
            Console.WriteLine($"execution providers: {string.Join(", ", OnnxRuntimeLibrary.AvailableProviders)}");
            return 0;
        }
        catch (DllNotFoundException e)
        {
            Console.WriteLine("onnxruntime: not found");
            Console.Error.WriteLine(e.Message);
            return 1;
        }
    }
}
