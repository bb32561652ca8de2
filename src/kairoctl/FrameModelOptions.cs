using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Kairo.Onnx;
using Kairo.Runtime.Loops;

namespace Kairo.Ctl;

/// <summary>
/// The options that say which frames a loop on a model moves (<c>--model</c>, <c>--input</c>, <c>--state</c>), shared by
/// <c>send</c>, <c>record</c> and <c>frames</c>, and the loading of that layout exactly as kairod derives it.
/// </summary>
internal sealed class FrameModelOptions
{
    public Option<string> Model { get; } = new("--model")
    {
        Description = "The ONNX model whose loop the frames are for.",
        Required = true,
    };

    public Option<string[]> Inputs { get; } = new("--input")
    {
        Description = "Shape of a dynamic input as name=DxD..., e.g. observation=1x48, as in the loop's profile (dynamic dimensions are 1 otherwise).",
        AllowMultipleArgumentsPerToken = false,
    };

    public Option<string[]> State { get; } = new("--state")
    {
        Description = "A recurrent state edge OUTPUT:INPUT as in the loop's profile, e.g. hidden_out:hidden_in; that input leaves the input frame.",
        AllowMultipleArgumentsPerToken = false,
    };

    public FrameModelOptions()
    {
        Inputs.Validators.Add(r =>
        {
            foreach (string text in r.GetValueOrDefault<string[]>() ?? [])
            {
                if (ParseShape(text, out _, out _) is { } error)
                {
                    r.AddError(error);
                }
            }
        });
        State.Validators.Add(r =>
        {
            foreach (string text in r.GetValueOrDefault<string[]>() ?? [])
            {
                if (ParseEdge(text) is null)
                {
                    r.AddError($"--state '{text}' is not OUTPUT:INPUT; for example --state hidden_out:hidden_in");
                }
            }
        });
    }

    public void AddTo(Command command)
    {
        command.Options.Add(Model);
        command.Options.Add(Inputs);
        command.Options.Add(State);
    }

    /// <summary>
    /// Loads the model (one warm-up run, which also fixes dynamic output shapes) and returns its loop layout; or null
    /// after printing why it could not, with <paramref name="exitCode"/> saying whose fault it was.
    /// </summary>
    public LoopLayout? Load(ParseResult parse, string command, out int exitCode)
    {
        string path = parse.GetValue(Model)!;
        exitCode = CtlCommand.UsageError;
        if (!File.Exists(path))
        {
            Console.Error.WriteLine($"kairoctl {command}: --model {path}: no such file");
            return null;
        }

        var shapes = new Dictionary<string, long[]>(StringComparer.Ordinal);
        foreach (string text in parse.GetValue(Inputs) ?? [])
        {
            ParseShape(text, out string name, out long[] shape);
            shapes[name] = shape;
        }

        var edges = (parse.GetValue(State) ?? []).Select(e => ParseEdge(e)!).ToList();
        try
        {
            OnnxRuntimeLibrary.Load();
        }
        catch (DllNotFoundException ex)
        {
            Console.Error.WriteLine($"kairoctl {command}: {ex.Message}");
            exitCode = 1;
            return null;
        }

        var options = new LoopOptions { Name = "kairoctl", RateHz = 1, InputShapes = shapes, State = edges };
        var source = new ModelSource(Path.GetFileNameWithoutExtension(path), path, null, new SessionOptions { IntraOpThreads = 1, InterOpThreads = 1, LogSeverity = 3 });
        try
        {
            using var model = ModelInstance.Load(source, options, warmupRuns: 1);
            exitCode = 0;
            return model.Layout;
        }
        catch (LoopConfigurationException ex)
        {
            Console.Error.WriteLine($"kairoctl {command}: {path}: {ex.Message}");
            return null;
        }
        catch (Exception ex) when (ex is OnnxRuntimeException or ArgumentException or IOException)
        {
            Console.Error.WriteLine($"kairoctl {command}: {path} could not be loaded: {ex.Message}");
            exitCode = 1;
            return null;
        }
    }

    /// <summary><c>name=1x48</c> (or <c>name=1,48</c>); null when it parses, else what is wrong and an example.</summary>
    internal static string? ParseShape(string text, out string name, out long[] shape)
    {
        name = "";
        shape = [];
        int equals = text.IndexOf('=');
        if (equals <= 0)
        {
            return $"--input '{text}' is not name=DxD...; for example --input observation=1x48";
        }

        name = text[..equals];
        string dims = text[(equals + 1)..];
        if (dims.Length == 0)
        {
            shape = []; // a scalar
            return null;
        }

        var parts = dims.Split(dims.Contains(',') ? ',' : 'x');
        shape = new long[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!long.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out shape[i]) || shape[i] > int.MaxValue)
            {
                return $"--input '{text}': dimension '{parts[i]}' is not a whole number >= 0; for example --input {name}=1x48";
            }
        }

        return null;
    }

    private static StateEdge? ParseEdge(string text)
    {
        int colon = text.IndexOf(':');
        return colon <= 0 || colon == text.Length - 1 || text.IndexOf(':', colon + 1) >= 0 ? null : new StateEdge(text[..colon], text[(colon + 1)..]);
    }
}
