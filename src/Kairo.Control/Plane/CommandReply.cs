using System.Text.Json.Nodes;

namespace Kairo.Control.Plane;

/// <summary>The stable error codes of command replies (docs/control-plane.md). Clients may switch on them.</summary>
public static class ErrorCodes
{
    public const string Ok = "ok";

    /// <summary>The payload is not a JSON object, or a field has the wrong type.</summary>
    public const string BadRequest = "bad_request";

    /// <summary>No command has that name.</summary>
    public const string UnknownCommand = "unknown_command";

    /// <summary>The payload is larger than the configured limit.</summary>
    public const string TooLarge = "too_large";

    /// <summary>A required argument is missing or out of range.</summary>
    public const string InvalidArgument = "invalid_argument";

    /// <summary>The loop, model or job named does not exist.</summary>
    public const string NotFound = "not_found";

    /// <summary>The request does not fit the current state (e.g. a model that does not fit the loop).</summary>
    public const string Conflict = "conflict";

    /// <summary>Too many requests are waiting; this one was not run.</summary>
    public const string Busy = "busy";

    /// <summary>The command exists but its part of Kairo is not configured on this device.</summary>
    public const string Unavailable = "unavailable";

    /// <summary>The command failed inside Kairo; the message says how.</summary>
    public const string Internal = "internal";
}

/// <summary>Every reply: <c>{id, ok, code, message, data}</c>.</summary>
public sealed record CommandReply(bool Ok, string Code, string Message, JsonNode? Data)
{
    public static CommandReply Success(JsonNode? data = null, string message = "") => new(true, ErrorCodes.Ok, message, data);

    public static CommandReply Error(string code, string message) => new(false, code, message, null);

    public JsonObject ToJson(JsonNode? id) => new()
    {
        ["id"] = id?.DeepClone(),
        ["ok"] = Ok,
        ["code"] = Code,
        ["message"] = Message,
        ["data"] = Data?.DeepClone(),
    };
}

/// <summary>A command as a handler sees it: its name and its arguments (the payload's other fields).</summary>
public sealed class CommandRequest
{
    public CommandRequest(string name, JsonObject arguments)
    {
        Name = name;
        Arguments = arguments;
    }

    public string Name { get; }

    public JsonObject Arguments { get; }

    /// <summary>A required string argument, or an <see cref="CommandException"/> naming it.</summary>
    public string RequireString(string name)
    {
        if (Arguments[name] is JsonValue value && value.TryGetValue(out string? s) && !string.IsNullOrEmpty(s))
        {
            return s;
        }

        throw Arguments.ContainsKey(name)
            ? new CommandException(ErrorCodes.BadRequest, $"'{name}' must be a non-empty string")
            : new CommandException(ErrorCodes.InvalidArgument, $"'{name}' is required");
    }

    public string? OptionalString(string name) =>
        Arguments.ContainsKey(name) ? RequireString(name) : null;

    /// <summary>A required number argument, or an <see cref="CommandException"/> naming it.</summary>
    public double RequireNumber(string name)
    {
        if (Arguments[name] is JsonValue value && value.TryGetValue(out double d))
        {
            return d;
        }

        throw Arguments.ContainsKey(name)
            ? new CommandException(ErrorCodes.BadRequest, $"'{name}' must be a number")
            : new CommandException(ErrorCodes.InvalidArgument, $"'{name}' is required");
    }
}

/// <summary>Thrown by a handler to reply with a specific error code; nothing has changed when it is thrown.</summary>
public sealed class CommandException(string code, string message) : Exception(message)
{
    public string Code { get; } = code;
}
