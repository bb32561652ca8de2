using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Kairo.Onnx;
using Kairo.Onnx.TestData;
using Kairo.Updates;
using Kairo.Updates.Packages;

namespace Kairo.Ctl.Updates;

/// <summary>
/// <c>kairoctl pack MODEL.onnx --name N --version V ... --out DIR [--tar]</c>: an unsigned package of the model and
/// its golden vectors (copied with --golden, or made with --generate), checked to pass here, with its manifest.
/// </summary>
internal static class PackCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("MODEL") { Description = "The ONNX model to package." };
        var name = new Option<string>("--name") { Description = "The model's name, e.g. pilotnet (A-Z a-z 0-9 . _ -).", Required = true };
        var version = new Option<long>("--version") { Description = "The package version: a whole number >= 1, above every earlier one.", Required = true };
        var release = new Option<string?>("--release") { Description = "A release name for people, e.g. 2025.06-rc1 (default: the version)." };
        var boards = new Option<string[]>("--boards")
        {
            Description = "Boards the package runs on, comma-separated (default: * for every board).",
            AllowMultipleArgumentsPerToken = false,
        };
        var minKairo = new Option<string?>("--min-kairo") { Description = $"The oldest Kairo that may run it (default: {UpdateText.KairoVersion}, this kairoctl's)." };
        var minOrt = new Option<string?>("--min-onnxruntime") { Description = "The oldest ONNX Runtime that may run it (default: the one the vectors are checked with here)." };
        var expires = new Option<string>("--expires")
        {
            Description = "When the package expires: 30d, 12h, 90m from now, or a UTC date 2026-01-31 or time 2026-01-31T12:00:00Z.",
            DefaultValueFactory = _ => $"{(int)PackageBuilder.DefaultLifetime.TotalDays}d",
        };
        var budget = new Option<double>("--latency-budget")
        {
            Description = "Milliseconds the p99 of the golden runs on a device must stay under.",
            DefaultValueFactory = _ => PackageBuilder.DefaultLatencyBudgetMs,
        };
        var atol = new Option<double>("--atol") { Description = "Absolute tolerance of the golden outputs.", DefaultValueFactory = _ => Tolerance.DefaultAtol };
        var rtol = new Option<double>("--rtol") { Description = "Relative tolerance of the golden outputs.", DefaultValueFactory = _ => Tolerance.DefaultRtol };
        var golden = new Option<string?>("--golden") { Description = "A directory of test_data_set_N directories (input_K.pb, output_K.pb) to include." };
        var generate = new Option<int>("--generate") { Description = "Make this many golden data sets by running the model on seeded random inputs." };
        var seed = new Option<int>("--seed") { Description = "The seed of --generate's random inputs.", DefaultValueFactory = _ => 1 };
        var inputs = new Option<string[]>("--input")
        {
            Description = "Shape of a dynamic input for --generate as name=DxD..., e.g. observation=1x48 (open dimensions are 1 otherwise).",
            AllowMultipleArgumentsPerToken = false,
        };
        var output = new Option<string>("--out") { Description = "The package directory to create (new or empty).", Required = true };
        var tar = new Option<bool>("--tar") { Description = "Also write NAME-vVERSION.kpkg (one uncompressed tar) next to the directory." };

        version.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<long>() < 1)
            {
                r.AddError("--version must be a whole number >= 1, for example --version 3");
            }
        });
        budget.Validators.Add(r =>
        {
            double value = r.GetValueOrDefault<double>();
            if (!(value > 0) || double.IsInfinity(value))
            {
                r.AddError("--latency-budget must be a number of milliseconds > 0, for example --latency-budget 20");
            }
        });
        atol.Validators.Add(r => RequireTolerance(r, "--atol"));
        rtol.Validators.Add(r => RequireTolerance(r, "--rtol"));
        generate.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 0 or > 1000)
            {
                r.AddError("--generate must be between 0 and 1000, for example --generate 4");
            }
        });
        inputs.Validators.Add(r =>
        {
            foreach (string text in r.GetValueOrDefault<string[]>() ?? [])
            {
                if (FrameModelOptions.ParseShape(text, out _, out _) is { } error)
                {
                    r.AddError(error);
                }
            }
        });

        var command = new Command("pack", "Make an unsigned model package: model.onnx, golden vectors and manifest.json (then kairoctl sign).")
        {
            model, name, version, release, boards, minKairo, minOrt, expires, budget, atol, rtol, golden, generate, seed, inputs, output, tar,
        };
        command.Validators.Add(r =>
        {
            bool hasGolden = r.GetResult(golden) is { Implicit: false };
            bool generates = r.GetValue(generate) > 0;
            if (!hasGolden && !generates)
            {
                r.AddError("a package needs golden vectors: give --golden DIR (test_data_set_N directories) or --generate N");
            }
        });

        command.SetAction(parse =>
        {
            DateTimeOffset now = DateTimeOffset.UtcNow;
            string expiresText = parse.GetValue(expires)!;
            if (UpdateText.ParseExpiry(expiresText, now) is not { } expiry)
            {
                return UpdateText.Usage("pack", $"--expires '{expiresText}' is neither a span (30d, 12h, 90m) nor a UTC date (2026-01-31) or time (2026-01-31T12:00:00Z)");
            }

            if (expiry <= now)
            {
                return UpdateText.Usage("pack", $"--expires {expiresText} is in the past; a package must expire after it is made");
            }

            var shapes = new Dictionary<string, long[]>(StringComparer.Ordinal);
            foreach (string text in parse.GetValue(inputs) ?? [])
            {
                FrameModelOptions.ParseShape(text, out string input, out long[] shape);
                shapes[input] = shape;
            }

            string[] boardList = UpdateText.List(parse.GetValue(boards));
            var options = new PackageBuildOptions
            {
                ModelPath = parse.GetValue(model)!,
                Name = parse.GetValue(name)!,
                Version = parse.GetValue(version),
                Release = parse.GetValue(release),
                CompatibleBoards = boardList.Length == 0 ? [PackageManifest.AnyBoard] : boardList,
                MinKairoVersion = parse.GetValue(minKairo) ?? UpdateText.KairoVersion,
                MinOnnxRuntimeVersion = parse.GetValue(minOrt),
                Expires = expiry,
                Tolerance = new Tolerance(parse.GetValue(atol), parse.GetValue(rtol)),
                LatencyBudgetMs = parse.GetValue(budget),
                GoldenDirectory = parse.GetValue(golden),
                GenerateCount = parse.GetValue(generate),
                Seed = parse.GetValue(seed),
                InputShapes = shapes,
            };
            return Run(options, parse.GetValue(output)!, parse.GetValue(tar));
        });
        return command;
    }

    private static int Run(PackageBuildOptions options, string output, bool tar)
    {
        if (!File.Exists(options.ModelPath))
        {
            return UpdateText.Usage("pack", $"no such model file: {options.ModelPath}");
        }

        if (options.GoldenDirectory is { } golden && !Directory.Exists(golden))
        {
            return UpdateText.Usage("pack", $"--golden {golden}: no such directory");
        }

        if (!UpdateText.LoadOnnxRuntime("pack"))
        {
            return UpdateText.Refused;
        }

        PackageBuildResult result;
        try
        {
            result = PackageBuilder.Build(options, output, tar);
        }
        catch (UpdateException ex)
        {
            return UpdateText.Refusal("pack", ex);
        }
        catch (OnnxRuntimeException ex)
        {
            return UpdateText.Fail("pack", $"ONNX Runtime refused {options.ModelPath}: {ex.Message.ReplaceLineEndings(" ")}");
        }
        catch (Exception ex) when (ex is ArgumentException or IOException or UnauthorizedAccessException or InvalidDataException)
        {
            return UpdateText.Usage("pack", ex.Message);
        }

        PackageManifest manifest = result.Manifest;
        foreach (string note in result.Notes)
        {
            Console.Out.WriteLine($"note: {note}");
        }

        Console.Out.WriteLine($"packed {manifest} into {output}: {manifest.Files.Count} files, {UpdateText.Bytes(manifest.TotalLength)}");
        foreach (PackageFile file in manifest.Files)
        {
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {file.Path,-32} {file.Length,10}  {file.Sha256[..16]}"));
        }

        Console.Out.WriteLine($"  {manifest.Signature}");
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  boards {string.Join(",", manifest.CompatibleBoards)}; Kairo >= {manifest.MinKairoVersion}, ONNX Runtime >= {manifest.Runtime.OnnxRuntime}; " +
            $"{manifest.Tolerance}; latency budget {manifest.LatencyBudgetMs:G} ms; expires {manifest.Expires.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'}"));
        if (result.ArchivePath is { } archive)
        {
            Console.Out.WriteLine($"wrote {archive}");
        }

        Console.Out.WriteLine(result.ArchivePath is { } unsigned
            ? $"unsigned: sign with kairoctl sign {output} --key NAME.key, and the archive with kairoctl sign {unsigned} --key NAME.key"
            : $"unsigned: sign it with kairoctl sign {output} --key NAME.key");
        return UpdateText.Ok;
    }

    private static void RequireTolerance(OptionResult result, string name)
    {
        double value = result.GetValueOrDefault<double>();
        if (!(value >= 0) || double.IsInfinity(value))
        {
            result.AddError($"{name} must be a finite number >= 0, for example {name} 1e-4");
        }
    }
}
