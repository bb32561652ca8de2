using System.Collections.Concurrent;
using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kairo.Control.Mqtt;
using Kairo.Control.Plane;

namespace Kairo.Ctl.Device;

/// <summary>
/// <c>kairoctl deploy --device ID --package URL</c>: asks a device to update itself from a package (<c>ota.start</c>)
/// and follows the job on <c>P/ota/{jobId}</c> to its end (docs/ota.md). Exit code 0 when the device committed the new
/// model; 1 when it refused the request, or the update failed or was rolled back; 2 on a usage error; 3 when the
/// device cannot be reached, goes offline or says nothing for <c>--timeout</c> (the job goes on in its journal);
/// 130 on Ctrl-C or SIGTERM, which leave the job running.
/// </summary>
internal static class DeployCommand
{
    public const int Interrupted = 130;

    /// <summary>How long the connection and the reply to <c>ota.start</c> may take (or <c>--timeout</c>, when shorter).</summary>
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);

    public static Command Create()
    {
        var device = new DeviceOptions(timeout: false);
        var package = new Option<string>("--package")
        {
            Description = "The package's http:// or https:// URL, as the device reaches it (e.g. from kairoctl serve): http://HOST:8780/pilotnet-v3.kpkg.",
            Required = true,
        };
        var jobId = new Option<string?>("--job-id")
        {
            Description = "The job's id: 1 to 64 of A-Z a-z 0-9 . _ -, not starting with '.' (default: deploy-yyyyMMddHHmmss-xxxx).",
        };
        var timeout = new Option<string>("--timeout")
        {
            Description = "Give up when the device reports no progress for this long (90s, 10m, 1h, or seconds); the job goes on.",
            DefaultValueFactory = _ => "10m",
        };
        var json = new Option<bool>("--json") { Description = "Print every progress message as one JSON line on stdout instead of the progress bar." };

        package.Validators.Add(r =>
        {
            string url = r.GetValueOrDefault<string>() ?? "";
            if (!IsPackageUrl(url))
            {
                r.AddError($"--package '{url}' is not an http:// or https:// URL; give the address the device downloads the package from, " +
                    "for example --package http://192.168.1.20:8780/pilotnet-v3.kpkg");
            }
        });
        jobId.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is { } id && !Kairo.Updates.Device.UpdateJournal.IsValidJobId(id))
            {
                r.AddError($"--job-id '{id}' is not a job id: 1 to {Kairo.Updates.Device.UpdateJournal.MaxJobIdLength} of A-Z a-z 0-9 . _ -, not starting with '.', for example --job-id rollout-42");
            }
        });
        timeout.Validators.Add(r =>
        {
            string text = r.GetValueOrDefault<string>() ?? "";
            if (ParseSpan(text) is not { } span || span <= TimeSpan.Zero || span > TimeSpan.FromHours(24))
            {
                r.AddError($"--timeout '{text}' is not a span above 0 and up to 24 h: write 90s, 10m, 1h or seconds, for example --timeout 10m");
            }
        });

        var command = new Command("deploy", "Update a device's model from a package URL over MQTT (ota.start) and follow the update to its end.")
        {
            package, jobId, timeout, json,
        };
        device.AddTo(command);
        command.SetAction(parse => DeviceCommandRunner.Run("deploy", () =>
        {
            TimeSpan silence = ParseSpan(parse.GetValue(timeout)!)!.Value;
            var settings = device.Read(parse);
            settings = settings with { Timeout = silence < RequestTimeout ? silence : RequestTimeout };
            return Run(settings, parse.GetValue(package)!, parse.GetValue(jobId) ?? NewJobId(), silence, parse.GetValue(json));
        }));
        return command;
    }

    /// <summary><c>deploy-20261121061534-3f9a</c>: when, to the second, and enough chance to tell two operators apart.</summary>
    internal static string NewJobId() =>
        $"deploy-{DateTime.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture)}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(2))}";

    internal static bool IsPackageUrl(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps) && uri.Host.Length > 0;

    /// <summary><c>90s</c>, <c>10m</c>, <c>1.5h</c>, <c>600</c> (seconds); null when it is none of those.</summary>
    internal static TimeSpan? ParseSpan(string text)
    {
        text = text.Trim();
        int unit = text.Length;
        while (unit > 0 && char.IsAsciiLetter(text[unit - 1]))
        {
            unit--;
        }

        if (!double.TryParse(text.AsSpan(0, unit), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
        {
            return null;
        }

        double seconds = text[unit..] switch
        {
            "" or "s" => value,
            "m" or "min" => value * 60,
            "h" => value * 3600,
            _ => double.NaN,
        };
        return double.IsNaN(seconds) || seconds > TimeSpan.MaxValue.TotalSeconds / 2 ? null : TimeSpan.FromSeconds(seconds);
    }

    private static int Run(DeviceSettings settings, string url, string jobId, TimeSpan silence, bool json)
    {
        string progressTopic = $"{settings.Prefix}/ota/{jobId}";
        using var messages = new BlockingCollection<MqttMessage>();

        // Subscribed before ota.start goes out: the device may report its first step before its reply arrives.
        using var connection = DeviceConnection.Open(settings, [progressTopic], m =>
        {
            try
            {
                messages.Add(m);
            }
            catch (InvalidOperationException)
            {
                // Deploy is ending: CompleteAdding came first.
            }
        });
        connection.RequireOnline();
        long? session = connection.State?.Seq;
        var hints = new Hints(settings, jobId);

        // From here on Ctrl-C must not end the process before it has said what became of the job.
        using var stop = new StopSignal();
        DeviceReply reply;
        try
        {
            reply = connection.Request("ota.start", new JsonObject { ["url"] = url, ["jobId"] = jobId });
        }
        catch (DeviceException e) when (e.ExitCode == DeviceExit.NoAnswer)
        {
            throw DeviceException.NoAnswer($"{e.Message}; the device may have started job {jobId} all the same: {hints.Status} shows it");
        }

        if (!reply.Ok)
        {
            return DeviceCommandRunner.ErrorReply("deploy", reply);
        }

        Console.Error.WriteLine($"kairoctl deploy: device {settings.DeviceId} accepted job {jobId}: {url}");
        var view = new ProgressView(json, live: !json && !Console.IsErrorRedirected);
        string? lastStep = null;
        string? lastMessage = null;
        long deadline = Environment.TickCount64 + (long)silence.TotalMilliseconds;
        try
        {
            while (true)
            {
                int wait = (int)Math.Max(0, deadline - Environment.TickCount64);
                if (!messages.TryTake(out var message, wait, stop.Token))
                {
                    view.End();
                    string last = lastStep is null ? "none since ota.start was accepted" : $"{lastStep}: {lastMessage}";
                    throw DeviceException.NoAnswer(
                        $"no progress from device {settings.DeviceId} on job {jobId} for {DeviceText.Duration(silence.TotalSeconds)} (last step: {last}); " +
                        $"the device keeps the job in its journal: {hints.Status} shows it");
                }

                if (message.Topic == settings.StateTopic)
                {
                    // An offline of an earlier session (a late will) says nothing about the session that took the job.
                    if (DeviceState.Parse(message.Payload) is { IsOffline: true } state && (session is null || state.Seq is null || state.Seq == session))
                    {
                        view.End();
                        string details = state.Details() is { Length: > 0 } d ? $" ({d})" : "";
                        string at = lastStep is null ? "" : $" at step {lastStep}";
                        throw DeviceException.NoAnswer(
                            $"device {settings.DeviceId} went offline{details} during job {jobId}{at}; the device keeps the job in its journal: " +
                            $"{hints.Status} shows it once the device is back");
                    }

                    continue;
                }

                if (message.Topic != progressTopic || OtaProgress.Parse(message.Payload) is not { } progress || progress.JobId != jobId)
                {
                    continue;
                }

                deadline = Environment.TickCount64 + (long)silence.TotalMilliseconds;
                view.Show(progress);
                switch (progress.Step)
                {
                    case "committed":
                        view.End();
                        string release = progress.Release is { } r ? $" ({r})" : "";
                        string committed = $"committed: {progress.Model ?? "?"} v{DeviceText.Count(progress.Version)}{release} on {settings.DeviceId}";
                        (json ? Console.Error : Console.Out).WriteLine(committed); // --json keeps stdout to JSON lines
                        return DeviceExit.Ok;
                    case "failed":
                        view.End();
                        string step = lastStep is null ? "" : $" at {lastStep}";
                        Console.Error.WriteLine($"update failed{step}: {progress.Reason}");
                        return DeviceExit.ErrorReply;
                    case "rolled_back":
                        view.End();
                        Console.Error.WriteLine($"rolled back: {progress.Reason}");
                        return DeviceExit.ErrorReply;
                }

                lastStep = progress.Step;
                lastMessage = progress.Message;
            }
        }
        catch (OperationCanceledException)
        {
            view.End();
            Console.Error.WriteLine(
                $"kairoctl deploy: interrupted; job {jobId} goes on on device {settings.DeviceId}, it was not cancelled: " +
                $"{hints.Status} shows it, {hints.Cancel} cancels it");
            return Interrupted;
        }
        finally
        {
            messages.CompleteAdding();
        }
    }

    /// <summary>The <c>kairoctl cmd</c> lines that reach the same device, for the operator to copy.</summary>
    private sealed class Hints(DeviceSettings settings, string jobId)
    {
        public string Status => Command("ota.status");

        public string Cancel => Command($"ota.cancel jobId={jobId}");

        private string Command(string request)
        {
            var line = new StringBuilder($"kairoctl cmd --device {settings.DeviceId}");
            if (settings.Broker != DeviceOptions.DefaultBroker)
            {
                line.Append($" --broker {settings.Broker}");
            }

            if (settings.Prefix != DeviceOptions.DefaultPrefix.Replace("{deviceId}", settings.DeviceId, StringComparison.Ordinal))
            {
                line.Append($" --prefix {settings.Prefix}");
            }

            return line.Append(' ').Append(request).ToString();
        }
    }

    /// <summary>Progress on stderr: one line redrawn in place on a terminal, one line per step otherwise; or JSON lines on stdout.</summary>
    private sealed class ProgressView(bool json, bool live)
    {
        private const int BarWidth = 24;

        private string? _step;
        private bool _open;

        public void Show(OtaProgress progress)
        {
            if (json)
            {
                Console.Out.WriteLine(Json.Write(progress.Document));
                Console.Out.Flush();
                return;
            }

            bool terminal = progress.Step is "committed" or "failed" or "rolled_back";
            bool changed = progress.Step != _step;
            _step = progress.Step;
            if (live)
            {
                if (changed)
                {
                    End();
                }

                if (!terminal)
                {
                    Console.Error.Write($"\r{Fit(LiveLine(progress))}\u001b[K");
                    _open = true;
                }
            }
            else if (changed && !terminal)
            {
                Console.Error.WriteLine(PlainLine(progress));
            }
        }

        /// <summary>Ends the redrawn line, so what follows starts on a line of its own.</summary>
        public void End()
        {
            if (_open)
            {
                Console.Error.WriteLine();
                _open = false;
            }
        }

        /// <summary><c>download  [##########..............]  42%  1.2 MiB / 2.9 MiB</c>, or the step and its message.</summary>
        private static string LiveLine(OtaProgress p)
        {
            string step = p.Step.PadRight(9);
            if (p.Bytes is not { } bytes)
            {
                return $"{step} {p.Message}";
            }

            if (p.Total is not ({ } total and > 0))
            {
                return $"{step} {DeviceText.Bytes(bytes)}";
            }

            double fraction = Math.Clamp((double)bytes / total, 0, 1);
            int filled = (int)Math.Round(fraction * BarWidth);
            return string.Create(CultureInfo.InvariantCulture,
                $"{step} [{new string('#', filled)}{new string('.', BarWidth - filled)}] {fraction * 100,3:0}%  {DeviceText.Bytes(bytes)} / {DeviceText.Bytes(total)}");
        }

        /// <summary><c>verify: checking signatures and files</c>, with the bytes for a download.</summary>
        private static string PlainLine(OtaProgress p)
        {
            string bytes = p.Bytes is { } b ? $" ({DeviceText.Bytes(b)}{(p.Total is { } t ? $" of {DeviceText.Bytes(t)}" : "")})" : "";
            return $"{p.Step}: {p.Message}{bytes}";
        }

        /// <summary>Cut to the terminal's width: a line that wraps cannot be redrawn with a carriage return.</summary>
        private static string Fit(string line)
        {
            int width;
            try
            {
                width = Console.WindowWidth;
            }
            catch (IOException)
            {
                width = 80;
            }

            return width > 1 && line.Length >= width ? line[..(width - 1)] : line;
        }
    }
}

/// <summary>
/// One progress message of an update job on <c>P/ota/{jobId}</c>: <c>{jobId, step, model, version, release, bytes,
/// total, failure, message, ts}</c>, every member but <c>jobId</c> and <c>step</c> possibly null.
/// </summary>
internal sealed record OtaProgress(
    JsonObject Document,
    string JobId,
    string Step,
    string? Model,
    long? Version,
    string? Release,
    long? Bytes,
    long? Total,
    string? Failure,
    string Message)
{
    /// <summary><c>[file_hash] model.onnx differs from the signed SHA-256</c>.</summary>
    public string Reason => Failure is { } code ? $"[{code}] {Message}" : Message;

    /// <summary>Null when the payload is not a progress message.</summary>
    public static OtaProgress? Parse(byte[] payload)
    {
        try
        {
            if (JsonNode.Parse(payload) is JsonObject o && DeviceText.String(o["jobId"]) is { } jobId && DeviceText.String(o["step"]) is { } step)
            {
                return new OtaProgress(
                    o,
                    jobId,
                    step,
                    DeviceText.String(o["model"]),
                    DeviceText.Long(o["version"]),
                    DeviceText.String(o["release"]),
                    DeviceText.Long(o["bytes"]),
                    DeviceText.Long(o["total"]),
                    DeviceText.String(o["failure"]),
                    DeviceText.String(o["message"]) ?? "");
            }
        }
        catch (JsonException)
        {
        }

        return null;
    }
}
