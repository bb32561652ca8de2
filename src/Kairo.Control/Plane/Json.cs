using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Kairo.Control.Plane;

/// <summary>How the control plane writes JSON: compact, and without escaping what JSON does not require escaped.</summary>
public static class Json
{
    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string Write(JsonNode node) => node.ToJsonString(Relaxed);

    public static byte[] Utf8(JsonNode node) => System.Text.Encoding.UTF8.GetBytes(Write(node));
}
