using Kairo.Onnx;
using Kairo.Runtime.Frames;

namespace Kairo.Runtime.Loops;

/// <summary>
/// The tensors a loop moves, fixed at its start: the input frame its source fills, the state inputs carried from
/// outputs, and the output frame its sinks receive. Every model the loop runs, now or after a swap, must fit it.
/// </summary>
public sealed class LoopLayout
{
    private LoopLayout(FrameLayout input, FrameLayout state, FrameLayout output, IReadOnlyList<StateEdge> edges, IReadOnlyList<string> notes)
    {
        Input = input;
        State = state;
        Output = output;
        Edges = edges;
        Notes = notes;
    }

    /// <summary>Inputs the source fills, in model order.</summary>
    public FrameLayout Input { get; }

    /// <summary>Inputs fed from the previous tick's outputs.</summary>
    public FrameLayout State { get; }

    /// <summary>Every output, in model order.</summary>
    public FrameLayout Output { get; }

    public IReadOnlyList<StateEdge> Edges { get; }

    /// <summary>Decisions worth telling an operator, e.g. a dynamic dimension fixed to 1.</summary>
    public IReadOnlyList<string> Notes { get; }

    /// <summary>The layout for a session: dynamic input dimensions fixed from <paramref name="inputShapes"/> (else 1).</summary>
    public static LoopLayout Create(InferenceSession session, IReadOnlyDictionary<string, long[]> inputShapes, IReadOnlyList<StateEdge> edges, IReadOnlyList<(string Name, long[] Shape)> outputShapes)
    {
        var notes = new List<string>();
        foreach (var edge in edges)
        {
            if (session.InputIndex(edge.To) < 0)
            {
                throw new LoopConfigurationException($"state edge {edge.From} -> {edge.To}: the model has no input '{edge.To}' (inputs: {string.Join(", ", session.Inputs.Select(i => i.Name))})");
            }

            if (session.OutputIndex(edge.From) < 0)
            {
                throw new LoopConfigurationException($"state edge {edge.From} -> {edge.To}: the model has no output '{edge.From}' (outputs: {string.Join(", ", session.Outputs.Select(o => o.Name))})");
            }
        }

        foreach (var name in inputShapes.Keys)
        {
            if (session.InputIndex(name) < 0)
            {
                throw new LoopConfigurationException($"a shape is given for input '{name}', but the model has no such input (inputs: {string.Join(", ", session.Inputs.Select(i => i.Name))})");
            }
        }

        var frame = new List<(string, TensorElementType, long[])>();
        var state = new List<(string, TensorElementType, long[])>();
        foreach (var input in session.Inputs)
        {
            if (input.Kind != OnnxValueKind.Tensor)
            {
                throw new LoopConfigurationException($"input '{input.Name}' is a {input.Kind.ToString().ToLowerInvariant()}; a loop feeds tensors only");
            }

            long[] shape = FixShape(input, inputShapes.GetValueOrDefault(input.Name), notes);
            (edges.Any(e => e.To == input.Name) ? state : frame).Add((input.Name, input.ElementType, shape));
        }

        var outputs = new List<(string, TensorElementType, long[])>();
        foreach (var output in session.Outputs)
        {
            if (output.Kind != OnnxValueKind.Tensor)
            {
                throw new LoopConfigurationException($"output '{output.Name}' is a {output.Kind.ToString().ToLowerInvariant()}; a loop emits tensors only");
            }

            var known = outputShapes.FirstOrDefault(o => o.Name == output.Name).Shape;
            outputs.Add((output.Name, output.ElementType, known ?? output.Shape.ToArray()));
        }

        var layout = new LoopLayout(new FrameLayout(frame), new FrameLayout(state), new FrameLayout(outputs), edges, notes);
        foreach (var edge in edges)
        {
            var from = layout.Output.Find(edge.From)!;
            var to = layout.State.Find(edge.To)!;
            if (from.ElementType != to.ElementType || from.Length != to.Length)
            {
                throw new LoopConfigurationException($"state edge {edge.From} -> {edge.To}: output {from} does not fit input {to}");
            }
        }

        return layout;
    }

    /// <summary>Why <paramref name="session"/> cannot run in this loop, or null when it fits.</summary>
    public string? Mismatch(InferenceSession session)
    {
        var problems = new List<string>();
        foreach (var slot in Input.Slots.Concat(State.Slots))
        {
            int i = session.InputIndex(slot.Name);
            if (i < 0)
            {
                problems.Add($"input '{slot.Name}' is missing");
            }
            else if (!Fits(session.Inputs[i], slot))
            {
                problems.Add($"input '{slot.Name}' is {session.Inputs[i]}, the loop feeds {slot}");
            }
        }

        if (session.Inputs.Count != Input.Slots.Count + State.Slots.Count)
        {
            problems.Add($"the model takes {session.Inputs.Count} inputs, the loop feeds {Input.Slots.Count + State.Slots.Count}");
        }

        foreach (var slot in Output.Slots)
        {
            int i = session.OutputIndex(slot.Name);
            if (i < 0)
            {
                problems.Add($"output '{slot.Name}' is missing");
            }
            else if (!Fits(session.Outputs[i], slot))
            {
                problems.Add($"output '{slot.Name}' is {session.Outputs[i]}, the loop expects {slot}");
            }
        }

        if (session.Outputs.Count != Output.Slots.Count)
        {
            problems.Add($"the model gives {session.Outputs.Count} outputs, the loop expects {Output.Slots.Count}");
        }

        return problems.Count == 0 ? null : string.Join("; ", problems);
    }

    private static bool Fits(NodeInfo node, TensorSlot slot)
    {
        if (node.Kind != OnnxValueKind.Tensor || node.ElementType != slot.ElementType || node.Shape.Count != slot.Shape.Length)
        {
            return false;
        }

        for (int d = 0; d < slot.Shape.Length; d++)
        {
            if (node.Shape[d] >= 0 && node.Shape[d] != slot.Shape[d])
            {
                return false;
            }
        }

        return true;
    }

    private static long[] FixShape(NodeInfo input, long[]? given, List<string> notes)
    {
        if (given != null)
        {
            if (given.Length != input.Shape.Count || given.Any(d => d < 0))
            {
                throw new LoopConfigurationException($"input '{input.Name}': shape [{string.Join(',', given)}] does not fit the model's {input}");
            }

            for (int d = 0; d < given.Length; d++)
            {
                if (input.Shape[d] >= 0 && input.Shape[d] != given[d])
                {
                    throw new LoopConfigurationException($"input '{input.Name}': dimension {d} is {input.Shape[d]} in the model, the profile gives {given[d]}");
                }
            }

            return given;
        }

        var shape = input.Shape.ToArray();
        for (int d = 0; d < shape.Length; d++)
        {
            if (shape[d] < 0)
            {
                shape[d] = 1;
                string symbol = input.SymbolicDims[d].Length > 0 ? $"'{input.SymbolicDims[d]}'" : $"{d}";
                notes.Add($"input '{input.Name}': dynamic dimension {symbol} fixed to 1 (give the input's shape in the profile to change it)");
            }
        }

        return shape;
    }
}

/// <summary>A loop or model that cannot be set up as configured; the message names what and why.</summary>
public sealed class LoopConfigurationException(string message) : Exception(message);
