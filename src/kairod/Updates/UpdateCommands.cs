using System.Text.Json.Nodes;
using Kairo.Control.Plane;
using Kairo.Updates;
using Kairo.Updates.Device;

namespace Kairo.Daemon.Updates;

/// <summary>The <c>ota.*</c> commands of docs/control-plane.md, and the progress of updates on <c>ota/{jobId}</c> and events.</summary>
internal sealed class UpdateCommands(Daemon daemon, UpdateAgent agent)
{
    public CommandReply Handle(CommandRequest request) => request.Name switch
    {
        "ota.start" => Start(request),
        "ota.status" => CommandReply.Success(Status(request.OptionalString("jobId"))),
        "ota.cancel" => Cancel(request),
        "ota.rollback" => RollBack(request),
        _ => CommandReply.Error(ErrorCodes.UnknownCommand, $"'{request.Name}' is not an update command; expected ota.start, ota.status, ota.cancel or ota.rollback"),
    };

    /// <summary>Publishes one progress report on <c>ota/{jobId}</c> (QoS 1), and an event when the update ends.</summary>
    public static void Publish(ControlPlane? plane, UpdateProgress progress)
    {
        if (plane is null)
        {
            return;
        }

        plane.Publish($"{plane.Prefix}/ota/{progress.JobId}", ToJson(progress), qos: 1, retain: false);
        string? eventType = progress.Step switch
        {
            UpdateStep.Committed => "ota.committed",
            UpdateStep.Failed => "ota.failed",
            UpdateStep.RolledBack => "ota.rolled-back",
            _ => null,
        };
        if (eventType is not null)
        {
            plane.PublishEvent(eventType, ToJson(progress));
        }
    }

    public static JsonObject ToJson(UpdateProgress progress) => new()
    {
        ["jobId"] = progress.JobId,
        ["step"] = progress.Step.ToName(),
        ["model"] = progress.Model,
        ["version"] = progress.Version,
        ["release"] = progress.Release,
        ["bytes"] = progress.Bytes,
        ["total"] = progress.Total,
        ["failure"] = progress.Failure?.ToCode(),
        ["message"] = progress.Message,
        ["ts"] = progress.Timestamp.ToString("O"),
    };

    private CommandReply Start(CommandRequest request)
    {
        string url = request.RequireString("url");
        string? jobId = request.OptionalString("jobId");
        if (!Uri.TryCreate(url, UriKind.Absolute, out Uri? uri))
        {
            throw new CommandException(ErrorCodes.InvalidArgument, $"url '{url}' is not an absolute URL; expected http(s)://HOST[:PORT]/NAME-vVERSION.kpkg");
        }

        try
        {
            string id = agent.Start(uri, jobId);
            return CommandReply.Success(new JsonObject { ["jobId"] = id, ["step"] = UpdateStep.Download.ToName(), ["progressTopic"] = $"{daemon.ControlPlane?.Prefix}/ota/{id}" },
                $"update {id} started; progress on ota/{id}");
        }
        catch (ArgumentException e)
        {
            throw new CommandException(ErrorCodes.InvalidArgument, e.Message);
        }
        catch (UpdateBusyException e)
        {
            throw new CommandException(ErrorCodes.Busy, e.Message);
        }
    }

    private CommandReply Cancel(CommandRequest request)
    {
        string? jobId = request.OptionalString("jobId");
        try
        {
            if (!agent.Cancel(jobId))
            {
                throw new CommandException(ErrorCodes.NotFound, jobId is null ? "no update is running" : $"update {jobId} is not running (ota.status lists the recent ones)");
            }
        }
        catch (InvalidOperationException e)
        {
            throw new CommandException(ErrorCodes.Conflict, e.Message);
        }

        return CommandReply.Success(new JsonObject { ["jobId"] = jobId ?? agent.RunningJobId }, "cancelling; the update ends failed (cancelled), or rolled back if it was live");
    }

    private CommandReply RollBack(CommandRequest request)
    {
        string model = request.RequireString("model");
        if (daemon.Profile.Profile.Models?.Any(m => m.Name == model) != true)
        {
            throw new CommandException(ErrorCodes.NotFound, $"no model '{model}'; models: {string.Join(", ", (daemon.Profile.Profile.Models ?? []).Select(m => m.Name))}");
        }

        try
        {
            string line = agent.RollBack(model);
            daemon.ControlPlane?.PublishEvent("ota.rollback", new JsonObject { ["model"] = model, ["message"] = line });
            return CommandReply.Success(Installed(model), line);
        }
        catch (UpdateBusyException e)
        {
            throw new CommandException(ErrorCodes.Busy, e.Message);
        }
        catch (InvalidOperationException e)
        {
            throw new CommandException(ErrorCodes.Conflict, e.Message);
        }
        catch (Exception e) when (e is Kairo.Onnx.OnnxRuntimeException or Kairo.Runtime.Loops.LoopConfigurationException or TimeoutException or IOException)
        {
            throw new CommandException(ErrorCodes.Conflict, $"the rollback did not happen, nothing changed: {e.Message}");
        }
    }

    public JsonObject Status(string? jobId)
    {
        UpdateRecord? current = agent.Journal.Current;
        var history = agent.Journal.History;
        var last = agent.LastProgress;
        var status = new JsonObject
        {
            ["running"] = current is null ? null : Record(current),
            ["last"] = last is null ? null : ToJson(last),
            ["history"] = new JsonArray(history.Take(10).Select(r => (JsonNode?)Record(r)).ToArray()),
            ["models"] = new JsonArray((daemon.Profile.Profile.Models ?? []).Select(m => (JsonNode?)Installed(m.Name!)).ToArray()),
        };
        if (jobId is not null)
        {
            UpdateRecord? job = current?.JobId == jobId ? current : history.FirstOrDefault(r => r.JobId == jobId);
            status["job"] = job is null ? null : Record(job);
            if (job is null)
            {
                throw new CommandException(ErrorCodes.NotFound, $"no update {jobId} in the journal (it keeps the newest {UpdateJournal.HistoryLimit})");
            }
        }

        return status;
    }

    public JsonObject Installed(string model)
    {
        var installed = agent.Store.Find(model);
        long profileVersion = daemon.Profile.Profile.Models?.FirstOrDefault(m => m.Name == model)?.Version ?? 0;
        return new JsonObject
        {
            ["model"] = model,
            ["active"] = Version(installed?.Active) ?? new JsonObject { ["version"] = profileVersion, ["source"] = "profile" },
            ["previous"] = Version(installed?.Previous),
            ["older"] = new JsonArray((installed?.Older ?? []).Select(v => (JsonNode?)Version(v)).ToArray()),
            ["highestVersion"] = Math.Max(installed?.HighestVersion ?? 0, profileVersion),
        };
    }

    private static JsonObject? Version(InstalledVersion? version) => version is null ? null : new JsonObject
    {
        ["version"] = version.Version,
        ["release"] = version.Release,
        ["digest"] = version.Digest,
        ["source"] = "store",
    };

    private static JsonObject Record(UpdateRecord record) => new()
    {
        ["jobId"] = record.JobId,
        ["url"] = record.Url,
        ["step"] = record.Step.ToName(),
        ["model"] = record.Model,
        ["version"] = record.Version,
        ["release"] = record.Release,
        ["previousVersion"] = record.PreviousVersion,
        ["digest"] = record.Digest,
        ["failure"] = record.Failure,
        ["message"] = record.Message,
        ["started"] = record.Started.ToString("O"),
        ["updated"] = record.Updated.ToString("O"),
        ["resumes"] = record.Resumes,
    };
}
