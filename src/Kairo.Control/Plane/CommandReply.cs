using System.Text.Json;
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

/// <summary>
/// Every reply: <c>{id, ok, code, message, data}</c>. A handler gives <c>data</c> as a node, or as a writer that
/// writes it straight into the reply (<see cref="Success(Action{Utf8JsonWriter}, string)"/>): what busy commands
/// such as <c>status</c> do, so that answering them builds no tree to throw away.
/// </summary>
public sealed record CommandReply(bool Ok, string Code, string Message, JsonNode? Data)
{
    /// <summary>Writes <c>data</c> (one JSON value) in place of <see cref="Data"/>; null: <see cref="Data"/> is it.</summary>
    public Action<Utf8JsonWriter>? DataWriter { get; init; }

    public static CommandReply Success(JsonNode? data = null, string message = "") => new(true, ErrorCodes.Ok, message, data);

    public static CommandReply Success(Action<Utf8JsonWriter> data, string message = "") => new(true, ErrorCodes.Ok, message, null) { DataWriter = data };

    public static CommandReply Error(string code, string message) => new(false, code, message, null);

    /// <summary>The reply as a node (tests, and callers that keep it).</summary>
    public JsonObject ToJson(JsonNode? id) => Json.Object(w => WriteTo(w, id));

    /// <summary>Writes the reply object; <paramref name="id"/> is the request's, or null.</summary>
    public void WriteTo(Utf8JsonWriter writer, JsonNode? id)
    {
        writer.WriteStartObject();
        writer.WritePropertyName("id"u8);
        if (id is null)
        {
            writer.WriteNullValue();
        }
        else
        {
            id.WriteTo(writer);
        }

        writer.WriteBoolean("ok"u8, Ok);
        writer.WriteString("code"u8, Code);
        writer.WriteString("message"u8, Message);
        writer.WritePropertyName("data"u8);
        if (DataWriter is { } write)
        {
            write(writer);
        }
        else if (Data is null)
        {
            writer.WriteNullValue();
        }
        else
        {
            Data.WriteTo(writer);
        }

        writer.WriteEndObject();
    }
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
