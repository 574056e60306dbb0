using MoqLite.Model;
using MoqLite.Samples.WebApp.Broadcasts;

var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, WebRootPath = "../wwwroot" });

builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddMoqLite(builder.Configuration.GetSection("MoqLite").Bind)
    .AddBroadcast("clock", clock => clock.AddTrack<ClockTrack>("seconds", new TrackInfo(Priority: 0, Ordered: false, LatencyMax: TimeSpan.FromSeconds(2), Timescale: 1000)));

// HTTP/3 WebTransport (when this machine has libmsquic) and HTTP/1.1 share the port of the first configured URL.
var url = new Uri((builder.Configuration["urls"] ?? "http://localhost:5000").Split(';')[0].Replace("*", "localhost", StringComparison.Ordinal).Replace("+", "localhost", StringComparison.Ordinal));
builder.WebHost.UseMoqLiteWebTransport(options => options.Port = url.Port);

var app = builder.Build();
app.UseDefaultFiles();
app.UseStaticFiles();
app.MapMoqLite("/moq");
app.Run();

/// <summary>The sample's entry point, public for the tests' WebApplicationFactory.</summary>
public partial class Program;
