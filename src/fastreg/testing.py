"""pytest plugin for users of fastreg: a live server, a sandbox client and a wechatpy-ready base URL (to be written)."""
