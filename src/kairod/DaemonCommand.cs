using System.CommandLine;
using System.Reflection;
using Kairo.Daemon.Config;
using Kairo.Daemon.Logging;
using Kairo.Onnx;
using Kairo.Runtime.Loops;

namespace Kairo.Daemon;

/// <summary>kairod's command line: parses, then hands over to the daemon.</summary>
internal static class DaemonCommand
{
    public static int Run(string[] args)
    {
        var version = new Option<bool>("--version") { Description = "Print the Kairo version, the ONNX Runtime version and its execution providers, then exit." };
        var config = new Option<string?>("--config", "-c") { Description = "The board profile (JSON). Without it kairod runs its built-in demo profile." };
        var checkConfig = new Option<string?>("--check-config") { Description = "Check a profile (JSON, and that its models load and fit their loops), print the result and exit: 0 valid, 1 invalid." };
        var broker = new Option<string?>("--broker") { Description = "MQTT broker URL (mqtt://HOST:PORT or mqtts://HOST:PORT); overrides the profile's mqtt.broker." };
        var deviceId = new Option<string?>("--device-id") { Description = "This device's id in topics and status; overrides the profile (default: the host name)." };
        var stateDir = new Option<string?>("--state-dir") { Description = "The state directory (model store, update journal); overrides the profile (default /var/lib/kairo)." };
        var onnxRuntime = new Option<string?>("--onnxruntime") { Description = "Path of libonnxruntime.so.1 (or its directory) when it is not next to kairod." };

        var root = new RootCommand("kairod: the Kairo edge-AI runtime daemon. Runs the control loops of a board profile until SIGTERM or SIGINT; SIGHUP reloads log level and loop rates.");
        root.Options.Remove(root.Options.OfType<VersionOption>().Single()); // ours also names ONNX Runtime and its providers
        foreach (var option in new Option[] { version, config, checkConfig, broker, deviceId, stateDir, onnxRuntime })
        {
            root.Options.Add(option);
        }

        root.SetAction(parse =>
        {
            if (parse.GetValue(version))
            {
                return PrintVersion(parse.GetValue(onnxRuntime));
            }

            if (parse.GetValue(checkConfig) is { } toCheck)
            {
                return CheckConfig(toCheck, parse.GetValue(onnxRuntime));
            }

            return RunDaemon(parse.GetValue(config), new Overrides(parse.GetValue(deviceId), parse.GetValue(stateDir), parse.GetValue(broker), parse.GetValue(onnxRuntime)));
        });
        return root.Parse(args).Invoke();
    }

    internal static string KairoVersion { get; } =
        typeof(DaemonCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "unknown";

    private static int RunDaemon(string? configPath, Overrides overrides)
    {
        LoadedProfile loaded;
        try
        {
            loaded = configPath == null ? ProfileLoader.LoadEmbedded() : ProfileLoader.LoadFile(configPath);
        }
        catch (ProfileException e)
        {
            Console.Error.WriteLine($"kairod: {e.Message}");
            return 1;
        }

        if (overrides.DeviceId is { } id && ProfileValidator.Validate(new Profile { DeviceId = id }) is { Count: > 0 } errors)
        {
            Console.Error.WriteLine($"kairod: --device-id {errors[0][(errors[0].IndexOf(':') + 2)..]}");
            return 2;
        }

        if (overrides.Broker is { } url && ProfileValidator.CheckBroker(url) is { } brokerProblem)
        {
            Console.Error.WriteLine($"kairod: --broker {brokerProblem}");
            return 2;
        }

        var log = new ConsoleLog(ConsoleLog.ParseLevel(loaded.Profile.Log?.Level));
        using var daemon = new Daemon(loaded, overrides, log)
        {
            UpdatePausePoints = (Environment.GetEnvironmentVariable("KAIRO_UPDATE_PAUSE") ?? "")
                .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal),
        };
        return daemon.Run();
    }

    private static int CheckConfig(string path, string? libraryPath)
    {
        LoadedProfile loaded;
        try
        {
            loaded = ProfileLoader.LoadFile(path);
        }
        catch (ProfileException e)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }

        var problems = new List<string>();
        var profile = loaded.Profile;
        foreach (var (model, i) in (profile.Models ?? []).Select((m, i) => (m, i)))
        {
            string file = Path.GetFullPath(model.Path!, loaded.BaseDirectory);
            if (!File.Exists(file))
            {
                problems.Add($"$.models[{i}].path: '{model.Path}' does not exist (looked for {file})");
            }
        }

        Updates.UpdateSettings.LoadTrustedKeys(loaded, problems);

        if (problems.Count == 0)
        {
            try
            {
                OnnxRuntimeLibrary.Load(libraryPath ?? profile.OnnxRuntime?.LibraryPath);
                var factory = new LoopFactory(loaded, Path.GetTempPath(), new ConsoleLog(Microsoft.Extensions.Logging.LogLevel.None));
                foreach (var (section, i) in (profile.Loops ?? []).Select((l, i) => (l, i)))
                {
                    try
                    {
                        var options = LoopFactory.LoopOptions(section);
                        using var model = ModelInstance.Load(factory.ModelSource(section.Model!), options, warmupRuns: 1);
                    }
                    catch (Exception e) when (e is LoopConfigurationException or OnnxRuntimeException)
                    {
                        problems.Add($"$.loops[{i}] ({section.Name}): {e.Message}");
                    }
                }
            }
            catch (DllNotFoundException e)
            {
                Console.Error.WriteLine($"{path}: note: models were not checked: {e.Message.Split('\n')[0]}");
            }
        }

        if (problems.Count > 0)
        {
            Console.Error.WriteLine(new ProfileException(path, problems).Message);
            return 1;
        }

        Console.WriteLine($"{path}: valid ({profile.Models?.Count ?? 0} models, {profile.Loops?.Count ?? 0} loops)");
        return 0;
    }

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
