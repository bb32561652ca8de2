using System.CommandLine;
using System.CommandLine.Parsing;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Kairo.Ctl.Device;

/// <summary>
/// <c>kairoctl cmd --device ID NAME [key=value ...] [--json '{...}']</c>: sends any command of the control plane and
/// prints its reply. Exit code 0 when the device did it, 1 when it replied with an error (code and message on
/// stderr), 2 on a usage error, 3 when no reply came (broker unreachable, device offline, timeout).
/// </summary>
internal static class CmdCommand
{
    /// <summary>Fields of a request that kairoctl sets itself, to match the reply to the request.</summary>
    private static readonly string[] Reserved = ["id", "reply_to"];

    public static Command Create()
    {
        var device = new DeviceOptions();
        var name = new Argument<string>("NAME") { Description = "The command, e.g. status, loop.set-rate, model.activate." };
        var arguments = new Argument<string[]>("ARGS")
        {
            Description = "Arguments as key=value; a value that reads as JSON (50, true, null, [1,2], {\"a\":1}, \"text\") is sent as that, anything else as a string.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var json = new Option<string?>("--json") { Description = "Arguments as one JSON object; key=value arguments are added to it (and win)." };

        name.Validators.Add(r =>
        {
            string text = r.GetValueOrDefault<string>() ?? "";
            if (text.Length == 0 || text.AsSpan().IndexOfAny("/+#") >= 0)
            {
                r.AddError($"'{text}' is not a command name: it is one topic level, with no '/', '+' or '#', for example loop.set-rate");
            }
        });
        arguments.Validators.Add(r =>
        {
            foreach (string text in r.GetValueOrDefault<string[]>() ?? [])
            {
                if (ParseArgument(text, out _, out _) is { } error)
                {
                    r.AddError(error);
                }
            }
        });
        json.Validators.Add(r =>
        {
            if (ParseObject(r.GetValueOrDefault<string?>()) is { Error: { } error })
            {
                r.AddError(error);
            }
        });

        var command = new Command("cmd", "Send a command to a device over MQTT and print its reply, e.g. kairoctl cmd --device dev1 loop.set-rate loop=drive rateHz=50.")
        {
            name, arguments, json,
        };
        device.AddTo(command);
        command.SetAction(parse => DeviceCommandRunner.Run("cmd", () =>
        {
            var request = ParseObject(parse.GetValue(json)).Value ?? [];
            foreach (string text in parse.GetValue(arguments) ?? [])
            {
                ParseArgument(text, out string key, out JsonNode? value);
                request[key] = value;
            }

            return Run(device.Read(parse), parse.GetValue(name)!, request);
        }));
        return command;
    }

    private static int Run(DeviceSettings settings, string name, JsonObject arguments)
    {
        using var connection = DeviceConnection.Open(settings);
        connection.RequireOnline();
        DeviceReply reply = connection.Request(name, arguments);
        Console.Out.WriteLine(DeviceText.Pretty(reply.Document));
        return reply.Ok ? DeviceExit.Ok : DeviceCommandRunner.ErrorReply("cmd", reply);
    }

    /// <summary><c>key=value</c>; null when it parses, else what is wrong and an example.</summary>
    internal static string? ParseArgument(string text, out string key, out JsonNode? value)
    {
        value = null;
        int equals = text.IndexOf('=');
        key = equals > 0 ? text[..equals] : "";
        if (equals <= 0)
        {
            return $"argument '{text}' is not key=value; for example loop=drive or rateHz=50";
        }

        if (Array.IndexOf(Reserved, key) >= 0)
        {
            return $"argument '{text}': '{key}' is set by kairoctl to match the reply to the request; leave it out";
        }

        value = ParseValue(text[(equals + 1)..]);
        return null;
    }

    /// <summary>
    /// A number, true, false, null, an array, an object or a quoted string when the text is that in JSON; the text as a
    /// string otherwise (so <c>loop=drive</c> needs no quotes, and <c>version=1.2.3</c> stays a string).
    /// </summary>
    internal static JsonNode? ParseValue(string text)
    {
        if (text.Length > 0 && (text[0] is '{' or '[' or '"' or '-' || char.IsAsciiDigit(text[0]) || text is "true" or "false" or "null"))
        {
            try
            {
                return JsonNode.Parse(text);
            }
            catch (JsonException)
            {
            }
        }

        return JsonValue.Create(text);
    }

    private static (JsonObject? Value, string? Error) ParseObject(string? text)
    {
        if (text is null)
        {
            return (null, null);
        }

        try
        {
            return JsonNode.Parse(text) is JsonObject o
                ? Reserved.FirstOrDefault(o.ContainsKey) is { } reserved
                    ? (null, $"--json: '{reserved}' is set by kairoctl to match the reply to the request; leave it out")
                    : (o, null)
                : (null, $"--json must be a JSON object, for example --json '{{\"loop\":\"drive\",\"rateHz\":50}}'");
        }
        catch (JsonException e)
        {
            return (null, $"--json is not valid JSON ({e.Message}); for example --json '{{\"loop\":\"drive\",\"rateHz\":50}}'");
        }
    }
}
