// GStreamer for parley-peer: the headers, and small inline shims for what Swift cannot call directly. webrtcbin's
// actions are signals emitted with g_signal_emit_by_name, and g_object_get/set and gst_structure_new are variadic;
// each shim here makes one such call with fixed arguments.
#include <gst/gst.h>
#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>

static inline void parley_webrtc_create_offer(GstElement *webrtc, gboolean ice_restart, GstPromise *promise) {
    GstStructure *options = gst_structure_new("offer-options", "ice-restart", G_TYPE_BOOLEAN, ice_restart, NULL);
    g_signal_emit_by_name(webrtc, "create-offer", options, promise);
    gst_structure_free(options);
}

static inline void parley_webrtc_create_answer(GstElement *webrtc, GstPromise *promise) {
    g_signal_emit_by_name(webrtc, "create-answer", NULL, promise);
}

static inline void parley_webrtc_set_description(GstElement *webrtc, gboolean local, GstWebRTCSessionDescription *description,
                                                 GstPromise *promise) {
    g_signal_emit_by_name(webrtc, local ? "set-local-description" : "set-remote-description", description, promise);
}

static inline void parley_webrtc_add_ice_candidate(GstElement *webrtc, guint mline, const gchar *candidate) {
    g_signal_emit_by_name(webrtc, "add-ice-candidate", mline, candidate);
}

static inline void parley_webrtc_get_stats(GstElement *webrtc, GstPromise *promise) {
    g_signal_emit_by_name(webrtc, "get-stats", NULL, promise);
}

static inline gboolean parley_webrtc_add_turn_server(GstElement *webrtc, const gchar *uri) {
    gboolean added = FALSE;
    g_signal_emit_by_name(webrtc, "add-turn-server", uri, &added);
    return added;
}

/// Gives webrtcbin's ICE agent a host address of its own choosing (libnice leaves loopback out when it gathers).
static inline gboolean parley_webrtc_add_local_ip_address(GstElement *webrtc, const gchar *address) {
    GObject *ice = NULL;
    g_object_get(webrtc, "ice-agent", &ice, NULL);
    if (ice == NULL) return FALSE;
    gboolean added = FALSE;
    g_signal_emit_by_name(ice, "add-local-ip-address", address, &added);
    g_object_unref(ice);
    return added;
}

/// Adds a transceiver that only receives, with the codec of `caps`: the m-line a receive-only peer offers. FALSE if
/// webrtcbin refused it.
static inline gboolean parley_webrtc_add_recvonly_transceiver(GstElement *webrtc, const gchar *caps) {
    GstCaps *codec = gst_caps_from_string(caps);
    if (codec == NULL) return FALSE;
    GstWebRTCRTPTransceiver *transceiver = NULL;
    g_signal_emit_by_name(webrtc, "add-transceiver", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY, codec, &transceiver);
    gst_caps_unref(codec);
    if (transceiver == NULL) return FALSE;
    gst_object_unref(transceiver);
    return TRUE;
}

/// Fixes the codec a webrtcbin sink pad's transceiver offers and answers, whether or not media flows yet.
static inline void parley_pad_set_codec_preferences(GstPad *pad, const gchar *caps) {
    GObject *transceiver = NULL;
    g_object_get(pad, "transceiver", &transceiver, NULL);
    if (transceiver == NULL) return;
    GstCaps *preferences = gst_caps_from_string(caps);
    g_object_set(transceiver, "codec-preferences", preferences, NULL);
    gst_caps_unref(preferences);
    g_object_unref(transceiver);
}

static inline gint parley_object_get_enum(gpointer object, const gchar *property) {
    gint value = 0;
    g_object_get(object, property, &value, NULL);
    return value;
}

/// The session description in a create-offer or create-answer reply, owned by the caller; NULL if absent.
static inline GstWebRTCSessionDescription *parley_reply_description(const GstStructure *reply, const gchar *field) {
    GstWebRTCSessionDescription *description = NULL;
    if (reply == NULL || !gst_structure_get(reply, field, GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &description, NULL)) return NULL;
    return description;
}

/// A field holding a structure (as each report in get-stats' reply does), or NULL.
static inline const GstStructure *parley_value_structure(const GValue *value) {
    return value != NULL && GST_VALUE_HOLDS_STRUCTURE(value) ? gst_value_get_structure(value) : NULL;
}

static inline gint parley_stats_type(const GstStructure *report) {
    gint type = 0;
    gst_structure_get_enum(report, "type", GST_TYPE_WEBRTC_STATS_TYPE, &type);
    return type;
}

/// A numeric field of any numeric type as a double, or -1 if it is missing.
static inline gdouble parley_structure_number(const GstStructure *structure, const gchar *field) {
    const GValue *value = gst_structure_get_value(structure, field);
    if (value == NULL) return -1;
    GValue number = G_VALUE_INIT;
    g_value_init(&number, G_TYPE_DOUBLE);
    gdouble result = g_value_transform(value, &number) ? g_value_get_double(&number) : -1;
    g_value_unset(&number);
    return result;
}

/// Asks the encoder upstream of `pad` for a key frame (GStreamer's force-key-unit event), as a receiver's
/// picture-loss indication does.
static inline gboolean parley_pad_request_key_frame(GstPad *pad) {
    GstStructure *request = gst_structure_new("GstForceKeyUnit", "all-headers", G_TYPE_BOOLEAN, TRUE, NULL);
    return gst_pad_send_event(pad, gst_event_new_custom(GST_EVENT_CUSTOM_UPSTREAM, request));
}
