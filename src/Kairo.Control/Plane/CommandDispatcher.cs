namespace Kairo.Control.Plane;

/// <summary>Routes a command name to its handler; a handler registered for a prefix (<c>ota.</c>) takes a family.</summary>
public sealed class CommandDispatcher
{
    private readonly Dictionary<string, Func<CommandRequest, CommandReply>> _handlers = new(StringComparer.Ordinal);
    private readonly List<(string Prefix, Func<CommandRequest, CommandReply> Handler)> _families = [];

    public void Register(string name, Func<CommandRequest, CommandReply> handler) => _handlers[name] = handler;

    public void RegisterFamily(string prefix, Func<CommandRequest, CommandReply> handler) => _families.Add((prefix, handler));

    public IEnumerable<string> Names => _handlers.Keys.Order(StringComparer.Ordinal);

    public CommandReply Dispatch(CommandRequest request)
    {
        if (!_handlers.TryGetValue(request.Name, out var handler))
        {
            handler = _families.FirstOrDefault(f => request.Name.StartsWith(f.Prefix, StringComparison.Ordinal)).Handler;
        }

        if (handler == null)
        {
            return CommandReply.Error(ErrorCodes.UnknownCommand, $"no command '{request.Name}'; commands: {string.Join(", ", Names)}");
        }

        try
        {
            return handler(request);
        }
        catch (CommandException e)
        {
            return CommandReply.Error(e.Code, e.Message);
        }
        catch (Exception e)
        {
            return CommandReply.Error(ErrorCodes.Internal, $"{request.Name} failed: {e.Message}");
        }
    }
}
